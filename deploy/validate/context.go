package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// runContext prints the files of a Docker build context (NUL-separated, relative paths): DIR
// minus what DIR/.dockerignore excludes, matched with the library the Docker CLI and BuildKit
// use. The offline image check builds from exactly these files.
func runContext(args []string) error {
	fset := flag.NewFlagSet("context", flag.ExitOnError)
	_ = fset.Parse(args)
	if fset.NArg() != 1 {
		return errors.New("context: exactly one directory expected")
	}
	dir := fset.Arg(0)
	var patterns []string
	if f, err := os.Open(filepath.Join(dir, ".dockerignore")); err == nil {
		patterns, err = ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("context: .dockerignore: %w", err)
		}
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return fmt.Errorf("context: .dockerignore: %w", err)
	}
	out := os.Stdout
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		excluded, err := pm.MatchesOrParentMatches(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		if excluded {
			// a directory can only be skipped when no "!" exception could re-include below it
			if d.IsDir() && !pm.Exclusions() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			fmt.Fprintf(out, "%s\x00", rel)
		}
		return nil
	})
}
