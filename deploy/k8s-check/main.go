// k8s-check decodes each Kubernetes manifest strictly into the API's own Go types, the way the API
// server reads a create or an update in strict mode: an unknown or misspelled field, a field of the
// wrong type, a duplicate key, an unknown apiVersion/kind: each is an error naming the file and the
// document. No cluster is needed.
//
//	go run . ../k3s/*.yaml            (or: go build -o k8s-check . && ./k8s-check FILE|DIR...)
//
// It prints one line per document checked and exits 1 when any document failed, 2 on a usage error.
// A kustomization.yaml is not an API object: it is read as YAML, and the files it lists must exist.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// object is what every API type here is: it has ObjectMeta.
type object interface {
	GetName() string
	GetNamespace() string
}

// kinds maps "apiVersion kind" to a new, empty value of its Go type.
var kinds = map[string]func() object{
	"v1 Namespace":                                  func() object { return &corev1.Namespace{} },
	"v1 PersistentVolumeClaim":                      func() object { return &corev1.PersistentVolumeClaim{} },
	"v1 Service":                                    func() object { return &corev1.Service{} },
	"v1 Secret":                                     func() object { return &corev1.Secret{} },
	"v1 ConfigMap":                                  func() object { return &corev1.ConfigMap{} },
	"apps/v1 Deployment":                            func() object { return &appsv1.Deployment{} },
	"batch/v1 CronJob":                              func() object { return &batchv1.CronJob{} },
	"batch/v1 Job":                                  func() object { return &batchv1.Job{} },
	"networking.k8s.io/v1 Ingress":                  func() object { return &networkingv1.Ingress{} },
	"autoscaling/v2 HorizontalPodAutoscaler":        func() object { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"policy/v1 PodDisruptionBudget":                 func() object { return &policyv1.PodDisruptionBudget{} },
	"kustomize.config.k8s.io/v1beta1 Kustomization": nil, // not an API object: see checkKustomization
}

func main() {
	if len(os.Args) < 2 || strings.HasPrefix(os.Args[1], "-") {
		fmt.Fprintln(os.Stderr, "usage: k8s-check FILE.yaml|DIR...")
		os.Exit(2)
	}
	files, err := expand(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "k8s-check:", err)
		os.Exit(2)
	}
	failed := 0
	for _, file := range files {
		failed += checkFile(file, os.Stdout, os.Stderr)
	}
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "k8s-check: %d document(s) failed\n", failed)
		os.Exit(1)
	}
}

// expand turns each directory argument into its *.yaml and *.yml files, sorted.
func expand(args []string) ([]string, error) {
	var files []string
	for _, arg := range args {
		info, err := os.Stat(arg)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			files = append(files, arg)
			continue
		}
		var found []string
		for _, pattern := range []string{"*.yaml", "*.yml"} {
			matches, _ := filepath.Glob(filepath.Join(arg, pattern))
			found = append(found, matches...)
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: no *.yaml or *.yml files", arg)
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	return files, nil
}

// checkFile checks every document of one file; it returns how many failed.
func checkFile(file string, out, errOut io.Writer) int {
	content, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(errOut, "%s: %v\n", file, err)
		return 1
	}
	docs, err := split(content)
	if err != nil {
		fmt.Fprintf(errOut, "%s: %v\n", file, err)
		return 1
	}
	failed := 0
	for i, doc := range docs {
		where := fmt.Sprintf("%s:%d: document %d", file, doc.line, i+1)
		line, err := checkDocument(file, doc.text)
		if err != nil {
			fmt.Fprintf(errOut, "%s: %v\n", where, err)
			failed++
			continue
		}
		fmt.Fprintf(out, "%s: %s\n", where, line)
	}
	return failed
}

type document struct {
	line int // where it starts in the file, from 1
	text []byte
}

// split cuts a file into its YAML documents at "---" lines, as kubectl does (a "---" may be followed
// by a comment only); nothing between two separators is no document. Each keeps its first line.
func split(content []byte) ([]document, error) {
	var docs []document
	var current bytes.Buffer
	start := 1
	flush := func() {
		if current.Len() > 0 {
			docs = append(docs, document{start, bytes.Clone(current.Bytes())})
		}
		current.Reset()
	}
	lines := bytes.SplitAfter(content, []byte("\n"))
	for n, line := range lines {
		if bytes.HasPrefix(line, []byte("---")) {
			rest := strings.TrimSpace(string(line[3:]))
			if rest != "" && !strings.HasPrefix(rest, "#") {
				return nil, fmt.Errorf("line %d: invalid document separator: %s", n+1, strings.TrimSpace(string(line)))
			}
			flush()
			start = n + 2
			continue
		}
		current.Write(line)
	}
	flush()
	return docs, nil
}

// checkDocument decodes one YAML document strictly into its API type and says what it was.
func checkDocument(file string, doc []byte) (string, error) {
	// YAML to JSON without a target type, as kubectl sends it: a number where a string belongs stays
	// a number (and fails below), duplicate keys are an error.
	data, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return "", fmt.Errorf("not valid YAML: %w", err)
	}
	if trimmed := bytes.TrimSpace(data); bytes.Equal(trimmed, []byte("null")) {
		return "empty (comments only), skipped", nil
	}
	var meta metav1.TypeMeta
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(data, &meta); err != nil {
		return "", fmt.Errorf("not an object with apiVersion and kind: %w", err)
	}
	if meta.APIVersion == "" || meta.Kind == "" {
		return "", errors.New("apiVersion and kind are required")
	}
	id := meta.APIVersion + " " + meta.Kind
	newObject, known := kinds[id]
	if !known {
		return "", fmt.Errorf("unknown apiVersion and kind %s (known: %s)", id, strings.Join(knownKinds(), ", "))
	}
	if newObject == nil {
		return checkKustomization(file, id, data)
	}
	obj := newObject()
	// The API server's own decoding: field names match case-sensitively, and every unknown field and
	// duplicate field is reported (a field of the wrong type is err, and stops the decoding).
	strictErrs, err := sigsjson.UnmarshalStrict(data, obj, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	var messages []string
	for _, e := range strictErrs {
		messages = append(messages, e.Error())
	}
	if err != nil {
		messages = append(messages, err.Error())
	}
	if len(messages) > 0 {
		return "", fmt.Errorf("%s: %s", id, strings.Join(messages, "; "))
	}
	if obj.GetName() == "" {
		return "", fmt.Errorf("%s: metadata.name is required", id)
	}
	name := obj.GetName()
	if obj.GetNamespace() != "" {
		name = obj.GetNamespace() + "/" + name
	}
	return fmt.Sprintf("%s %s ok", id, name), nil
}

// checkKustomization reads a kustomization as YAML and checks that the local files it lists exist.
func checkKustomization(file, id string, data []byte) (string, error) {
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(data, &k); err != nil {
		return "", fmt.Errorf("%s: %w", id, err)
	}
	for _, resource := range k.Resources {
		if strings.Contains(resource, "://") {
			continue
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(file), resource)); err != nil {
			return "", fmt.Errorf("%s: resource %s: %w", id, resource, err)
		}
	}
	return fmt.Sprintf("%s (not an API object: read as YAML, its %d resources exist) ok", id, len(k.Resources)), nil
}

func knownKinds() []string {
	names := make([]string, 0, len(kinds))
	for id := range kinds {
		names = append(names, id)
	}
	sort.Strings(names)
	return names
}
