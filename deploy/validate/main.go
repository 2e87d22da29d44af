// Command swarmboot-validate checks the deployment files offline, where no cluster and no Docker
// engine are available:
//
//	swarmboot-validate k8s [-assume kind/name ...] FILE...
//	    Every YAML document (e.g. `helm template` output) is decoded strictly with client-go's
//	    scheme plus the prometheus-operator monitoring/v1 types: unknown or duplicate fields,
//	    wrong types and unregistered kinds are errors. Then cross-object checks that a schema
//	    cannot make: selectors match pod templates, named ports exist, referenced ConfigMaps,
//	    Secrets, PVCs and ServiceAccounts are rendered (or assumed with -assume), names and
//	    labels are valid.
//
//	swarmboot-validate compose [-env-file FILE] [-print] [-env-out FILE] COMPOSE_FILE
//	    Loads the file with compose-spec/compose-go (the loader of `docker compose`): JSON-schema
//	    validation, interpolation, consistency; then checks the rules of this project (every
//	    variable has a default, host-network services publish nothing, service_healthy targets
//	    have a healthcheck, build contexts exist).
//
//	swarmboot-validate context DIR
//	    Lists the files of the Docker build context DIR after .dockerignore (NUL-separated), as
//	    the Docker CLI and BuildKit select them (moby/patternmatcher).
//
// -env-out writes the environment each swarmboot service would get, for check-env.mjs.
package main

import (
	"encoding/json"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "k8s":
		err = runK8s(os.Args[2:])
	case "compose":
		err = runCompose(os.Args[2:])
	case "context":
		err = runContext(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage: swarmboot-validate k8s [-assume kind/name ...] [-env-out FILE] FILE...
       swarmboot-validate compose [-env-file FILE] [-print] [-env-out FILE] COMPOSE_FILE
       swarmboot-validate context DIR`)
	os.Exit(2)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
