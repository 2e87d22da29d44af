package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/sirupsen/logrus"
)

// warningHook collects what compose-go logs as a warning (an unset variable, an obsolete
// attribute): `docker compose` prints these and carries on; here they fail the check.
type warningHook struct {
	mu   sync.Mutex
	msgs []string
}

func (h *warningHook) Levels() []logrus.Level {
	return []logrus.Level{logrus.WarnLevel, logrus.ErrorLevel}
}

func (h *warningHook) Fire(e *logrus.Entry) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, e.Message)
	return nil
}

func runCompose(args []string) error {
	fs := flag.NewFlagSet("compose", flag.ExitOnError)
	envFile := fs.String("env-file", "", "env file used for interpolation (like `docker compose --env-file`); none: only the defaults in the file")
	print := fs.Bool("print", false, "print the resolved configuration (like `docker compose config`)")
	envOut := fs.String("env-out", "", "write the environment of each service whose command starts with a swarmboot service name as JSON to this file")
	_ = fs.Parse(args)
	if fs.NArg() < 1 {
		return errors.New("compose: a compose file expected (more: overrides merged in order, like `docker compose -f a -f b`)")
	}
	var files []string
	for _, f := range fs.Args() {
		abs, err := filepath.Abs(f)
		if err != nil {
			return err
		}
		files = append(files, abs)
	}
	file := files[0]
	hook := &warningHook{}
	logrus.AddHook(hook)
	logrus.SetOutput(os.Stderr)

	// The process environment is left out on purpose: the result must not depend on the
	// variables of the machine that runs the check.
	opts := []cli.ProjectOptionsFn{
		cli.WithWorkingDirectory(filepath.Dir(file)),
		cli.WithName("swarmboot"),
		cli.WithEnv([]string{}),
		cli.WithResolvedPaths(true),
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
	}
	label := "defaults only"
	if *envFile != "" {
		abs, err := filepath.Abs(*envFile)
		if err != nil {
			return err
		}
		opts = append(opts, cli.WithEnvFiles(abs), cli.WithDotEnv)
		label = "env file " + *envFile
	}
	po, err := cli.NewProjectOptions(files, opts...)
	if err != nil {
		return err
	}
	project, err := po.LoadProject(context.Background())
	if err != nil {
		return fmt.Errorf("compose: %s (%s): %w", strings.Join(fs.Args(), " + "), label, err)
	}

	var problems []string
	problems = append(problems, hook.msgs...)
	problems = append(problems, projectRules(project)...)
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, "  "+p)
		}
		return fmt.Errorf("compose: %d problem(s) in %s (%s)", len(problems), strings.Join(fs.Args(), " + "), label)
	}
	if *envOut != "" {
		envs := map[string]map[string]string{}
		for _, s := range project.Services {
			if len(s.Command) == 0 {
				continue
			}
			env := map[string]string{}
			for k, v := range s.Environment {
				if v != nil {
					env[k] = *v
				}
			}
			envs[s.Command[0]] = env
		}
		if err := writeJSON(*envOut, envs); err != nil {
			return err
		}
	}
	if *print {
		out, err := project.MarshalYAML()
		if err != nil {
			return err
		}
		os.Stdout.Write(out)
	}
	report := os.Stdout
	if *print {
		report = os.Stderr // stdout holds the configuration
	}
	fmt.Fprintf(report, "ok: %s valid (%s): services %s; volumes %d\n", strings.Join(fs.Args(), " + "), label, strings.Join(project.ServiceNames(), " "), len(project.Volumes))
	return nil
}

// projectRules are this project's rules on top of the compose specification.
func projectRules(p *types.Project) []string {
	var out []string
	names := p.ServiceNames()
	sort.Strings(names)
	for _, name := range names {
		s := p.Services[name]
		if s.NetworkMode == "host" {
			// Docker discards published ports in host mode (a warning at `up`), and a host-mode
			// container cannot join a compose network.
			if len(s.Ports) > 0 {
				out = append(out, fmt.Sprintf("service %s: network_mode host with published ports", name))
			}
			if len(s.Networks) > 0 {
				out = append(out, fmt.Sprintf("service %s: network_mode host with networks", name))
			}
		}
		if s.Image == "" && s.Build == nil {
			out = append(out, fmt.Sprintf("service %s: neither image nor build", name))
		}
		if s.Build != nil && s.Build.DockerfileInline == "" {
			dockerfile := s.Build.Dockerfile
			if dockerfile == "" {
				dockerfile = "Dockerfile"
			}
			if !filepath.IsAbs(dockerfile) {
				dockerfile = filepath.Join(s.Build.Context, dockerfile)
			}
			if _, err := os.Stat(dockerfile); err != nil {
				out = append(out, fmt.Sprintf("service %s: build: %v", name, err))
			}
		}
		if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0 {
			out = append(out, fmt.Sprintf("service %s: no healthcheck (every service of this stack has one)", name))
		}
		for dep, d := range s.DependsOn {
			target, ok := p.Services[dep]
			if !ok {
				continue // compose-go reports it
			}
			if d.Condition == types.ServiceConditionHealthy && (target.HealthCheck == nil || target.HealthCheck.Disable) {
				out = append(out, fmt.Sprintf("service %s: depends on %s being healthy, which has no healthcheck", name, dep))
			}
		}
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeVolume && v.Source != "" {
				if _, ok := p.Volumes[v.Source]; !ok {
					out = append(out, fmt.Sprintf("service %s: volume %q is not declared", name, v.Source))
				}
			}
		}
		for k, v := range s.Environment {
			if v == nil {
				out = append(out, fmt.Sprintf("service %s: environment %s has no value", name, k))
			}
		}
	}
	return out
}
