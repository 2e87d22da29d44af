package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

const goodDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: example/web:1
          ports: [{name: http, containerPort: 8080}]
          readinessProbe: {httpGet: {path: /healthz, port: http}}
          envFrom: [{configMapRef: {name: env}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: env}
data: {LOG_LEVEL: info}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
`

// check runs the k8s checks on one multi-document YAML and returns the errors.
func check(t *testing.T, doc string, assume ...string) []string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "in.yaml")
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	sch := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(sch); err != nil {
		t.Fatal(err)
	}
	c := &checker{byKey: map[string]*object{}, assumed: map[string]bool{}}
	for _, a := range assume {
		c.assumed[a] = true
	}
	if err := c.load(file, serializer.NewCodecFactory(sch, serializer.EnableStrict).UniversalDeserializer()); err != nil {
		t.Fatal(err)
	}
	if len(c.errs) == 0 {
		c.crossCheck()
	}
	return c.errs
}

func TestK8sAcceptsConsistentObjects(t *testing.T) {
	if errs := check(t, goodDeployment); len(errs) != 0 {
		t.Fatalf("unexpected errors: %v", errs)
	}
}

func TestK8sRejects(t *testing.T) {
	cases := []struct{ name, from, to, want string }{
		{"unknown field", "image: example/web:1", "image: example/web:1\n          imagePolicy: Always", `unknown field "spec.template.spec.containers[0].imagePolicy"`},
		{"wrong type", "containerPort: 8080", `containerPort: "8080"`, "cannot unmarshal string"},
		{"duplicate field", "data: {LOG_LEVEL: info}", "data: {LOG_LEVEL: info, LOG_LEVEL: debug}", "duplicate"},
		{"selector not matching the template", "selector: {matchLabels: {app: web}}", "selector: {matchLabels: {app: api}}", "does not match the pod template labels"},
		{"probe on an unnamed port", "port: http}}", "port: metrics}}", `port "metrics" is not a named port`},
		{"service target port missing", "targetPort: http", "targetPort: grpc", `targetPort grpc/TCP is not a container port`},
		{"service selecting nothing", "selector: {app: web}\n", "selector: {app: nobody}\n", "matches no pod template"},
		{"missing ConfigMap", "configMapRef: {name: env}", "configMapRef: {name: other}", `ConfigMap "other" is not rendered`},
		{"invalid env key in a ConfigMap", "data: {LOG_LEVEL: info}", "data: {LOG LEVEL: info}", "not a valid variable name"},
		{"invalid label", "labels: {app: web}}", "labels: {app: web, bad/label/x: y}}", "metadata.labels"},
		{"unknown kind", "kind: ConfigMap", "kind: ConfigMapp", "no kind \"ConfigMapp\""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(goodDeployment, tc.from) {
				t.Fatalf("fixture has no %q", tc.from)
			}
			errs := check(t, strings.Replace(goodDeployment, tc.from, tc.to, 1))
			joined := strings.Join(errs, "\n")
			if !strings.Contains(joined, tc.want) {
				t.Fatalf("want an error containing %q, got %q", tc.want, joined)
			}
		})
	}
}

func TestK8sAssumedSecret(t *testing.T) {
	doc := strings.Replace(goodDeployment, "envFrom: [{configMapRef: {name: env}}]", "envFrom: [{secretRef: {name: creds}}]", 1)
	if errs := check(t, doc); !strings.Contains(strings.Join(errs, "\n"), `Secret "creds" is not rendered`) {
		t.Fatalf("a missing Secret passed: %v", errs)
	}
	if errs := check(t, doc, "secret/creds"); len(errs) != 0 {
		t.Fatalf("-assume secret/creds did not apply: %v", errs)
	}
}

func TestComposeRules(t *testing.T) {
	dir := t.TempDir()
	write := func(content string) string {
		file := filepath.Join(dir, "compose.yml")
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return file
	}
	good := `
services:
  db:
    image: redis:7
    healthcheck: {test: ["CMD", "redis-cli", "ping"]}
  app:
    image: example/app:1
    network_mode: host
    environment: {URL: "${URL:-redis://127.0.0.1:6379}"}
    healthcheck: {test: ["CMD", "true"]}
    depends_on: {db: {condition: service_healthy}}
`
	if err := runCompose([]string{write(good)}); err != nil {
		t.Fatalf("good file refused: %v", err)
	}
	bad := []struct{ name, from, to string }{
		{"host network with published ports", "network_mode: host", "network_mode: host\n    ports: [\"80:80\"]"},
		{"healthy dependency without healthcheck", `    healthcheck: {test: ["CMD", "redis-cli", "ping"]}` + "\n", ""},
		{"variable without default", "${URL:-redis://127.0.0.1:6379}", "${URL}"},
		{"schema violation", "image: redis:7", "image: redis:7\n    imagee: redis:6"},
		{"unknown dependency", "depends_on: {db:", "depends_on: {cache:"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(good, tc.from) {
				t.Fatalf("fixture has no %q", tc.from)
			}
			if err := runCompose([]string{write(strings.Replace(good, tc.from, tc.to, 1))}); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
