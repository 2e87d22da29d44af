package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	sigsyaml "sigs.k8s.io/yaml"
)

// object is one decoded document of the input.
type object struct {
	src  string // "file#index (helm source)"
	gvk  schema.GroupVersionKind
	obj  runtime.Object
	meta metav1.Object
}

// podTemplate is the pod part of a workload, for the cross-object checks.
type podTemplate struct {
	owner  *object
	labels map[string]string
	spec   *corev1.PodSpec
	claims map[string]bool // volumeClaimTemplates of a StatefulSet
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

type checker struct {
	objs    []*object
	byKey   map[string]*object // "kind/namespace/name" (kind lower case)
	assumed map[string]bool    // "kind/name" given with -assume
	pods    []podTemplate
	errs    []string
}

func (c *checker) errorf(o *object, format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf("%s %s/%s: %s", o.src, o.gvk.Kind, o.meta.GetName(), fmt.Sprintf(format, args...)))
}

func key(kind, ns, name string) string {
	if ns == "" {
		ns = "default"
	}
	return strings.ToLower(kind) + "/" + ns + "/" + name
}

// exists tells whether an object of that kind is rendered in the namespace, or assumed to exist.
func (c *checker) exists(kind, ns, name string) bool {
	if c.assumed[strings.ToLower(kind)+"/"+name] {
		return true
	}
	_, ok := c.byKey[key(kind, ns, name)]
	return ok
}

func runK8s(args []string) error {
	fs := flag.NewFlagSet("k8s", flag.ExitOnError)
	var assume stringList
	fs.Var(&assume, "assume", "kind/name of an object that exists outside the input (e.g. secret/my-credentials); repeatable")
	quiet := fs.Bool("q", false, "print only errors")
	envOut := fs.String("env-out", "", "write the environment of each swarmboot container (by its first argument, the service) as JSON to this file")
	_ = fs.Parse(args)
	if fs.NArg() == 0 {
		return errors.New("k8s: no input files")
	}

	sch := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(sch); err != nil {
		return err
	}
	if err := monitoringv1.AddToScheme(sch); err != nil {
		return err
	}
	// EnableStrict: unknown fields, duplicate fields and case mismatches are errors, as with
	// `kubectl apply --validate=strict` against the API server.
	decoder := serializer.NewCodecFactory(sch, serializer.EnableStrict).UniversalDeserializer()

	c := &checker{byKey: map[string]*object{}, assumed: map[string]bool{}}
	for _, a := range assume {
		c.assumed[strings.ToLower(a)] = true
	}
	for _, file := range fs.Args() {
		if err := c.load(file, decoder); err != nil {
			return err
		}
	}
	if len(c.objs) == 0 && len(c.errs) == 0 {
		return fmt.Errorf("k8s: no objects in %s", strings.Join(fs.Args(), " "))
	}
	if len(c.errs) == 0 {
		c.crossCheck()
	}
	if len(c.errs) > 0 {
		for _, e := range c.errs {
			fmt.Fprintln(os.Stderr, "  "+e)
		}
		return fmt.Errorf("k8s: %d error(s) in %d object(s) of %s", len(c.errs), len(c.objs), strings.Join(fs.Args(), " "))
	}
	if *envOut != "" {
		if err := writeJSON(*envOut, c.serviceEnvs()); err != nil {
			return err
		}
	}
	if !*quiet {
		counts := map[string]int{}
		for _, o := range c.objs {
			counts[o.gvk.GroupVersion().String()+" "+o.gvk.Kind]++
		}
		var kinds []string
		for k, n := range counts {
			kinds = append(kinds, fmt.Sprintf("%s x%d", k, n))
		}
		sort.Strings(kinds)
		fmt.Printf("ok: %d objects valid (%s) in %s\n", len(c.objs), strings.Join(kinds, ", "), strings.Join(fs.Args(), " "))
	}
	return nil
}

func (c *checker) load(file string, decoder runtime.Decoder) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(f))
	for i := 0; ; i++ {
		doc, err := reader.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: document %d: %w", file, i, err)
		}
		src := fmt.Sprintf("%s#%d", file, i)
		for _, line := range strings.Split(string(doc), "\n") {
			if s, ok := strings.CutPrefix(line, "# Source: "); ok {
				src = s
				break
			}
		}
		asJSON, err := sigsyaml.YAMLToJSONStrict(doc)
		if err != nil {
			c.errs = append(c.errs, fmt.Sprintf("%s: invalid YAML: %v", src, err))
			continue
		}
		if t := bytes.TrimSpace(asJSON); bytes.Equal(t, []byte("null")) || len(t) == 0 {
			continue // empty document (comments only)
		}
		obj, gvk, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			c.errs = append(c.errs, fmt.Sprintf("%s: %v", src, err))
			continue
		}
		m, err := metaOf(obj)
		if err != nil {
			c.errs = append(c.errs, fmt.Sprintf("%s: %v", src, err))
			continue
		}
		o := &object{src: src, gvk: *gvk, obj: obj, meta: m}
		c.objs = append(c.objs, o)
		c.checkMeta(o)
		k := key(gvk.Kind, m.GetNamespace(), m.GetName())
		if prev, dup := c.byKey[k]; dup {
			c.errorf(o, "duplicate of %s", prev.src)
		}
		c.byKey[k] = o
	}
}

func metaOf(obj runtime.Object) (metav1.Object, error) {
	if m, ok := obj.(metav1.Object); ok {
		return m, nil
	}
	return nil, fmt.Errorf("%T has no object metadata (lists are not expected here)", obj)
}

func (c *checker) checkMeta(o *object) {
	name := o.meta.GetName()
	var msgs []string
	switch o.gvk.Kind {
	case "Service":
		msgs = validation.IsDNS1035Label(name) // ValidateServiceName
	case "Deployment", "DaemonSet", "StatefulSet":
		msgs = validation.IsDNS1123Subdomain(name)
		// the pod names derived from it must stay valid labels for the hostname
		if len(name) > 52 {
			msgs = append(msgs, "longer than 52 characters: generated pod names would be cut")
		}
	default:
		msgs = validation.IsDNS1123Subdomain(name)
	}
	for _, m := range msgs {
		c.errorf(o, "metadata.name %q: %s", name, m)
	}
	if ns := o.meta.GetNamespace(); ns != "" {
		for _, m := range validation.IsDNS1123Label(ns) {
			c.errorf(o, "metadata.namespace %q: %s", ns, m)
		}
	}
	for _, e := range metav1validation.ValidateLabels(o.meta.GetLabels(), field.NewPath("metadata", "labels")) {
		c.errorf(o, "%s", e.Error())
	}
	for _, e := range apivalidation.ValidateAnnotations(o.meta.GetAnnotations(), field.NewPath("metadata", "annotations")) {
		c.errorf(o, "%s", e.Error())
	}
}

// crossCheck runs the checks that need the whole set of objects.
func (c *checker) crossCheck() {
	for _, o := range c.objs {
		switch v := o.obj.(type) {
		case *appsv1.Deployment:
			c.checkSelector(o, v.Spec.Selector, v.Spec.Template.Labels)
			if v.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType && v.Spec.Strategy.RollingUpdate != nil {
				c.errorf(o, "strategy Recreate must not set rollingUpdate")
			}
			if v.Spec.Replicas != nil && *v.Spec.Replicas < 0 {
				c.errorf(o, "negative replicas")
			}
			c.pods = append(c.pods, podTemplate{owner: o, labels: v.Spec.Template.Labels, spec: &v.Spec.Template.Spec})
		case *appsv1.DaemonSet:
			c.checkSelector(o, v.Spec.Selector, v.Spec.Template.Labels)
			c.pods = append(c.pods, podTemplate{owner: o, labels: v.Spec.Template.Labels, spec: &v.Spec.Template.Spec})
		case *appsv1.StatefulSet:
			c.checkSelector(o, v.Spec.Selector, v.Spec.Template.Labels)
			claims := map[string]bool{}
			for _, t := range v.Spec.VolumeClaimTemplates {
				claims[t.Name] = true
				c.checkPVCSpec(o, &t.Spec)
			}
			if v.Spec.ServiceName != "" && !c.exists("Service", o.meta.GetNamespace(), v.Spec.ServiceName) {
				c.errorf(o, "serviceName %q: no such Service", v.Spec.ServiceName)
			}
			c.pods = append(c.pods, podTemplate{owner: o, labels: v.Spec.Template.Labels, spec: &v.Spec.Template.Spec, claims: claims})
		}
	}
	for _, p := range c.pods {
		c.checkPodSpec(p)
	}
	for _, o := range c.objs {
		switch v := o.obj.(type) {
		case *corev1.Service:
			c.checkService(o, v)
		case *policyv1.PodDisruptionBudget:
			if (v.Spec.MinAvailable == nil) == (v.Spec.MaxUnavailable == nil) {
				c.errorf(o, "exactly one of minAvailable and maxUnavailable must be set")
			}
			if len(c.podsSelectedBy(o.meta.GetNamespace(), v.Spec.Selector)) == 0 {
				c.errorf(o, "selector matches no pod template")
			}
		case *corev1.ConfigMap:
			for k := range v.Data {
				for _, m := range validation.IsConfigMapKey(k) {
					c.errorf(o, "data key %q: %s", k, m)
				}
			}
		case *corev1.Secret:
			for k := range v.Data {
				for _, m := range validation.IsConfigMapKey(k) {
					c.errorf(o, "data key %q: %s", k, m)
				}
			}
			for k := range v.StringData {
				for _, m := range validation.IsConfigMapKey(k) {
					c.errorf(o, "stringData key %q: %s", k, m)
				}
			}
		case *corev1.PersistentVolumeClaim:
			c.checkPVCSpec(o, &v.Spec)
		case *monitoringv1.ServiceMonitor:
			c.checkServiceMonitor(o, v)
		}
	}
}

func (c *checker) checkSelector(o *object, sel *metav1.LabelSelector, tmplLabels map[string]string) {
	if sel == nil || (len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0) {
		c.errorf(o, "spec.selector is required and must not be empty")
		return
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		c.errorf(o, "spec.selector: %v", err)
		return
	}
	if !s.Matches(labels.Set(tmplLabels)) {
		c.errorf(o, "spec.selector %s does not match the pod template labels %v", s, tmplLabels)
	}
	for _, e := range metav1validation.ValidateLabels(tmplLabels, field.NewPath("spec", "template", "metadata", "labels")) {
		c.errorf(o, "%s", e.Error())
	}
}

func (c *checker) podsSelectedBy(ns string, sel *metav1.LabelSelector) []podTemplate {
	if sel == nil {
		return nil
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || s.Empty() {
		return nil
	}
	var out []podTemplate
	for _, p := range c.pods {
		if p.owner.meta.GetNamespace() == ns && s.Matches(labels.Set(p.labels)) {
			out = append(out, p)
		}
	}
	return out
}

func (c *checker) checkPVCSpec(o *object, spec *corev1.PersistentVolumeClaimSpec) {
	if len(spec.AccessModes) == 0 {
		c.errorf(o, "PVC spec: accessModes is required")
	}
	if q, ok := spec.Resources.Requests[corev1.ResourceStorage]; !ok || q.Sign() <= 0 {
		c.errorf(o, "PVC spec: resources.requests.storage must be positive")
	}
}

func (c *checker) checkPodSpec(p podTemplate) {
	o, spec, ns := p.owner, p.spec, p.owner.meta.GetNamespace()
	if len(spec.Containers) == 0 {
		c.errorf(o, "pod template has no containers")
	}
	if sa := spec.ServiceAccountName; sa != "" && sa != "default" && !c.exists("ServiceAccount", ns, sa) {
		c.errorf(o, "serviceAccountName %q: no such ServiceAccount", sa)
	}
	volumes := map[string]*corev1.Volume{}
	for i := range spec.Volumes {
		v := &spec.Volumes[i]
		for _, m := range validation.IsDNS1123Label(v.Name) {
			c.errorf(o, "volume %q: %s", v.Name, m)
		}
		if volumes[v.Name] != nil {
			c.errorf(o, "volume %q defined twice", v.Name)
		}
		volumes[v.Name] = v
		switch {
		case v.ConfigMap != nil:
			if !isTrue(v.ConfigMap.Optional) && !c.exists("ConfigMap", ns, v.ConfigMap.Name) {
				c.errorf(o, "volume %q: ConfigMap %q is not rendered", v.Name, v.ConfigMap.Name)
			}
		case v.Secret != nil:
			if !isTrue(v.Secret.Optional) && !c.exists("Secret", ns, v.Secret.SecretName) {
				c.errorf(o, "volume %q: Secret %q is not rendered", v.Name, v.Secret.SecretName)
			}
		case v.PersistentVolumeClaim != nil:
			if !c.exists("PersistentVolumeClaim", ns, v.PersistentVolumeClaim.ClaimName) {
				c.errorf(o, "volume %q: PersistentVolumeClaim %q is not rendered", v.Name, v.PersistentVolumeClaim.ClaimName)
			}
		case v.HostPath != nil:
			if !strings.HasPrefix(v.HostPath.Path, "/") {
				c.errorf(o, "volume %q: hostPath.path must be absolute", v.Name)
			}
		}
	}
	names := map[string]bool{}
	all := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	for i := range all {
		ct := &all[i]
		if names[ct.Name] {
			c.errorf(o, "container name %q used twice", ct.Name)
		}
		names[ct.Name] = true
		for _, m := range validation.IsDNS1123Label(ct.Name) {
			c.errorf(o, "container %q: %s", ct.Name, m)
		}
		if strings.TrimSpace(ct.Image) == "" {
			c.errorf(o, "container %q: image is required", ct.Name)
		}
		c.checkContainer(o, p, ct, volumes)
	}
}

func (c *checker) checkContainer(o *object, p podTemplate, ct *corev1.Container, volumes map[string]*corev1.Volume) {
	ns, spec := o.meta.GetNamespace(), p.spec
	where := fmt.Sprintf("container %q", ct.Name)
	portNames := map[string]bool{}
	for _, port := range ct.Ports {
		if port.Name != "" {
			for _, m := range validation.IsValidPortName(port.Name) {
				c.errorf(o, "%s port name %q: %s", where, port.Name, m)
			}
			if portNames[port.Name] {
				c.errorf(o, "%s port name %q used twice", where, port.Name)
			}
			portNames[port.Name] = true
		}
		for _, m := range validation.IsValidPortNum(int(port.ContainerPort)) {
			c.errorf(o, "%s containerPort %d: %s", where, port.ContainerPort, m)
		}
		switch port.Protocol {
		case "", corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
		default:
			c.errorf(o, "%s port %d: protocol %q", where, port.ContainerPort, port.Protocol)
		}
		if spec.HostNetwork && port.HostPort != 0 && port.HostPort != port.ContainerPort {
			c.errorf(o, "%s port %d: with hostNetwork, hostPort must equal containerPort", where, port.ContainerPort)
		}
	}
	for name, probe := range map[string]*corev1.Probe{"livenessProbe": ct.LivenessProbe, "readinessProbe": ct.ReadinessProbe, "startupProbe": ct.StartupProbe} {
		if probe == nil {
			continue
		}
		handlers := 0
		if probe.Exec != nil {
			handlers++
			if len(probe.Exec.Command) == 0 {
				c.errorf(o, "%s %s: exec.command is empty", where, name)
			}
		}
		if probe.HTTPGet != nil {
			handlers++
			c.checkProbePort(o, where+" "+name, probe.HTTPGet.Port, portNames)
			if !strings.HasPrefix(probe.HTTPGet.Path, "/") {
				c.errorf(o, "%s %s: httpGet.path must start with /", where, name)
			}
		}
		if probe.TCPSocket != nil {
			handlers++
			c.checkProbePort(o, where+" "+name, probe.TCPSocket.Port, portNames)
		}
		if probe.GRPC != nil {
			handlers++
		}
		if handlers != 1 {
			c.errorf(o, "%s %s: exactly one handler required, found %d", where, name, handlers)
		}
		if name != "readinessProbe" && probe.SuccessThreshold > 1 {
			c.errorf(o, "%s %s: successThreshold must be 1", where, name)
		}
	}
	envNames := map[string]bool{}
	for _, e := range ct.Env {
		for _, m := range validation.IsEnvVarName(e.Name) {
			c.errorf(o, "%s env %q: %s", where, e.Name, m)
		}
		if envNames[e.Name] {
			c.errorf(o, "%s env %q set twice", where, e.Name)
		}
		envNames[e.Name] = true
		if e.ValueFrom == nil {
			continue
		}
		if r := e.ValueFrom.ConfigMapKeyRef; r != nil && !isTrue(r.Optional) {
			c.checkKeyRef(o, where, "ConfigMap", ns, r.Name, r.Key)
		}
		if r := e.ValueFrom.SecretKeyRef; r != nil && !isTrue(r.Optional) {
			c.checkKeyRef(o, where, "Secret", ns, r.Name, r.Key)
		}
	}
	for _, ef := range ct.EnvFrom {
		if r := ef.ConfigMapRef; r != nil && !isTrue(r.Optional) {
			c.checkEnvFrom(o, where, "ConfigMap", ns, r.Name, ef.Prefix)
		}
		if r := ef.SecretRef; r != nil && !isTrue(r.Optional) {
			c.checkEnvFrom(o, where, "Secret", ns, r.Name, ef.Prefix)
		}
	}
	mountPaths := map[string]bool{}
	for _, vm := range ct.VolumeMounts {
		if volumes[vm.Name] == nil && !p.claims[vm.Name] {
			c.errorf(o, "%s volumeMount %q: no such volume", where, vm.Name)
		}
		if !strings.HasPrefix(vm.MountPath, "/") {
			c.errorf(o, "%s volumeMount %q: mountPath must be absolute", where, vm.Name)
		}
		if mountPaths[vm.MountPath] {
			c.errorf(o, "%s mountPath %q used twice", where, vm.MountPath)
		}
		mountPaths[vm.MountPath] = true
	}
	for res, limit := range ct.Resources.Limits {
		if req, ok := ct.Resources.Requests[res]; ok && req.Cmp(limit) > 0 {
			c.errorf(o, "%s resources: request %s of %s exceeds its limit %s", where, req.String(), res, limit.String())
		}
	}
	psc, sc := spec.SecurityContext, ct.SecurityContext
	nonRoot := psc != nil && isTrue(psc.RunAsNonRoot)
	var uid *int64
	if psc != nil {
		uid = psc.RunAsUser
	}
	if sc != nil {
		if sc.RunAsNonRoot != nil {
			nonRoot = *sc.RunAsNonRoot
		}
		if sc.RunAsUser != nil {
			uid = sc.RunAsUser
		}
		if sc.Privileged != nil && *sc.Privileged && sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
			c.errorf(o, "%s: privileged and allowPrivilegeEscalation=false cannot be combined", where)
		}
	}
	if nonRoot && uid != nil && *uid == 0 {
		c.errorf(o, "%s: runAsNonRoot with runAsUser 0 never starts", where)
	}
}

func (c *checker) checkProbePort(o *object, where string, port intstr.IntOrString, portNames map[string]bool) {
	if port.Type == intstr.String {
		if !portNames[port.StrVal] {
			c.errorf(o, "%s: port %q is not a named port of the container", where, port.StrVal)
		}
		return
	}
	for _, m := range validation.IsValidPortNum(port.IntValue()) {
		c.errorf(o, "%s: port %d: %s", where, port.IntValue(), m)
	}
}

// dataKeys returns the keys of a rendered ConfigMap or Secret, or nil when it is assumed to exist.
func (c *checker) dataKeys(kind, ns, name string) (map[string]bool, bool) {
	o, ok := c.byKey[key(kind, ns, name)]
	if !ok {
		return nil, c.assumed[strings.ToLower(kind)+"/"+name]
	}
	keys := map[string]bool{}
	switch v := o.obj.(type) {
	case *corev1.ConfigMap:
		for k := range v.Data {
			keys[k] = true
		}
		for k := range v.BinaryData {
			keys[k] = true
		}
	case *corev1.Secret:
		for k := range v.Data {
			keys[k] = true
		}
		for k := range v.StringData {
			keys[k] = true
		}
	}
	return keys, true
}

func (c *checker) checkKeyRef(o *object, where, kind, ns, name, k string) {
	keys, ok := c.dataKeys(kind, ns, name)
	switch {
	case !ok:
		c.errorf(o, "%s: %s %q is not rendered (pass -assume %s/%s if it is created outside the chart)", where, kind, name, strings.ToLower(kind), name)
	case keys != nil && !keys[k]:
		c.errorf(o, "%s: %s %q has no key %q", where, kind, name, k)
	}
}

func (c *checker) checkEnvFrom(o *object, where, kind, ns, name, prefix string) {
	keys, ok := c.dataKeys(kind, ns, name)
	if !ok {
		c.errorf(o, "%s envFrom: %s %q is not rendered (pass -assume %s/%s if it is created outside the chart)", where, kind, name, strings.ToLower(kind), name)
		return
	}
	for k := range keys {
		// the kubelet skips such keys silently (an event only): the variable would be missing
		for _, m := range validation.IsEnvVarName(prefix + k) {
			c.errorf(o, "%s envFrom %s %q: key %q is not a valid variable name: %s", where, kind, name, k, m)
		}
	}
}

func (c *checker) checkService(o *object, svc *corev1.Service) {
	spec := &svc.Spec
	external := spec.Type == corev1.ServiceTypeNodePort || spec.Type == corev1.ServiceTypeLoadBalancer
	if spec.ExternalTrafficPolicy != "" && !external {
		c.errorf(o, "externalTrafficPolicy may only be set on NodePort and LoadBalancer services")
	}
	if spec.ClusterIP == corev1.ClusterIPNone && spec.Type != "" && spec.Type != corev1.ServiceTypeClusterIP {
		c.errorf(o, "a headless service (clusterIP None) must be of type ClusterIP")
	}
	if len(spec.Ports) == 0 && spec.ClusterIP != corev1.ClusterIPNone {
		c.errorf(o, "no ports")
	}
	seen := map[string]bool{}
	for _, port := range spec.Ports {
		if len(spec.Ports) > 1 && port.Name == "" {
			c.errorf(o, "port %d: a name is required when there are several ports", port.Port)
		}
		if port.Name != "" {
			for _, m := range validation.IsDNS1123Label(port.Name) {
				c.errorf(o, "port name %q: %s", port.Name, m)
			}
		}
		if seen[port.Name] {
			c.errorf(o, "port name %q used twice", port.Name)
		}
		seen[port.Name] = true
		for _, m := range validation.IsValidPortNum(int(port.Port)) {
			c.errorf(o, "port %d: %s", port.Port, m)
		}
		if port.NodePort != 0 && !external {
			c.errorf(o, "port %d: nodePort needs type NodePort or LoadBalancer", port.Port)
		}
	}
	if len(spec.Selector) == 0 {
		return // endpoints managed elsewhere
	}
	pods := c.podsSelectedBy(o.meta.GetNamespace(), &metav1.LabelSelector{MatchLabels: spec.Selector})
	if len(pods) == 0 {
		c.errorf(o, "selector %v matches no pod template", spec.Selector)
		return
	}
	for _, port := range spec.Ports {
		proto := port.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		for _, p := range pods {
			if !podServesPort(p.spec, port.TargetPort, port.Port, proto) {
				c.errorf(o, "port %q: targetPort %s/%s is not a container port of %s %s", port.Name, port.TargetPort.String(), proto, p.owner.gvk.Kind, p.owner.meta.GetName())
			}
		}
	}
}

// podServesPort tells whether a container declares the Service's target port with that protocol.
func podServesPort(spec *corev1.PodSpec, target intstr.IntOrString, servicePort int32, proto corev1.Protocol) bool {
	for _, ct := range spec.Containers {
		for _, cp := range ct.Ports {
			cpProto := cp.Protocol
			if cpProto == "" {
				cpProto = corev1.ProtocolTCP
			}
			if cpProto != proto {
				continue
			}
			switch {
			case target.Type == intstr.String && target.StrVal != "" && cp.Name == target.StrVal:
				return true
			case target.Type == intstr.Int && target.IntVal != 0 && cp.ContainerPort == target.IntVal:
				return true
			case target.Type == intstr.Int && target.IntVal == 0 && cp.ContainerPort == servicePort:
				return true
			}
		}
	}
	return false
}

func (c *checker) checkServiceMonitor(o *object, sm *monitoringv1.ServiceMonitor) {
	sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
	if err != nil {
		c.errorf(o, "spec.selector: %v", err)
		return
	}
	namespaces := map[string]bool{o.meta.GetNamespace(): true}
	if len(sm.Spec.NamespaceSelector.MatchNames) > 0 {
		namespaces = map[string]bool{}
		for _, n := range sm.Spec.NamespaceSelector.MatchNames {
			namespaces[n] = true
		}
	}
	var matched []*corev1.Service
	for _, other := range c.objs {
		if svc, ok := other.obj.(*corev1.Service); ok && (sm.Spec.NamespaceSelector.Any || namespaces[other.meta.GetNamespace()]) && sel.Matches(labels.Set(svc.Labels)) {
			matched = append(matched, svc)
		}
	}
	if len(matched) == 0 {
		c.errorf(o, "selector %s matches no rendered Service", sel)
		return
	}
	for _, ep := range sm.Spec.Endpoints {
		if ep.Port == "" {
			continue
		}
		found := false
		for _, svc := range matched {
			for _, port := range svc.Spec.Ports {
				found = found || port.Name == ep.Port
			}
		}
		if !found {
			c.errorf(o, "endpoint port %q is not a port name of the selected Services", ep.Port)
		}
	}
}

func isTrue(b *bool) bool { return b != nil && *b }

// Stand-ins for values the kubelet fills in (downward API), for -env-out.
var fieldRefSamples = map[string]string{
	"status.hostIP":      "192.0.2.10",
	"status.podIP":       "192.0.2.20",
	"metadata.name":      "pod-0",
	"metadata.namespace": "default",
	"spec.nodeName":      "node-0",
}

// serviceEnvs resolves the environment of every container whose first argument names a
// service: ConfigMap and Secret data as rendered, literal values, downward-API samples.
// A variable whose source is not rendered (an assumed Secret) is left out, so the service's
// default stands in for it.
func (c *checker) serviceEnvs() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, p := range c.pods {
		ns := p.owner.meta.GetNamespace()
		for _, ct := range p.spec.Containers {
			if len(ct.Args) == 0 {
				continue
			}
			env := map[string]string{}
			for _, ef := range ct.EnvFrom {
				if r := ef.ConfigMapRef; r != nil {
					for k, v := range c.data("ConfigMap", ns, r.Name) {
						env[ef.Prefix+k] = v
					}
				}
				if r := ef.SecretRef; r != nil {
					for k, v := range c.data("Secret", ns, r.Name) {
						env[ef.Prefix+k] = v
					}
				}
			}
			for _, e := range ct.Env {
				switch {
				case e.ValueFrom == nil:
					env[e.Name] = e.Value
				case e.ValueFrom.ConfigMapKeyRef != nil:
					if v, ok := c.data("ConfigMap", ns, e.ValueFrom.ConfigMapKeyRef.Name)[e.ValueFrom.ConfigMapKeyRef.Key]; ok {
						env[e.Name] = v
					}
				case e.ValueFrom.SecretKeyRef != nil:
					if v, ok := c.data("Secret", ns, e.ValueFrom.SecretKeyRef.Name)[e.ValueFrom.SecretKeyRef.Key]; ok {
						env[e.Name] = v
					}
				case e.ValueFrom.FieldRef != nil:
					if v, ok := fieldRefSamples[e.ValueFrom.FieldRef.FieldPath]; ok {
						env[e.Name] = v
					}
				}
			}
			out[ct.Args[0]] = env
		}
	}
	return out
}

// data is the content of a rendered ConfigMap or Secret (nil when not rendered).
func (c *checker) data(kind, ns, name string) map[string]string {
	o, ok := c.byKey[key(kind, ns, name)]
	if !ok {
		return nil
	}
	out := map[string]string{}
	switch v := o.obj.(type) {
	case *corev1.ConfigMap:
		for k, s := range v.Data {
			out[k] = s
		}
	case *corev1.Secret:
		for k, b := range v.Data {
			out[k] = string(b)
		}
		for k, s := range v.StringData {
			out[k] = s
		}
	}
	return out
}
