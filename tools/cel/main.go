// Command cel-harness runs ValidatingAdmissionPolicies the way the Kubernetes API server's
// ValidatingAdmissionPolicy admission plugin does, with that plugin's own code from
// k8s.io/apiserver (pinned in go.mod): the policies are compiled as the plugin compiles them
// (its composited CEL compiler over Kubernetes' base environment, variables included), each
// sample request is matched and evaluated by the plugin's dispatcher (resource rules,
// namespace and object selectors, matchConditions, failurePolicy, the bindings'
// validationActions) and by the plugin's validator, one decision per validation.
//
// Beforehand every expression is compiled the way the API server validates a policy it is
// asked to create: in the NewExpressions environment of the cluster's Kubernetes version
// (its CEL compatibility version is one minor below, as an API server of that version
// defaults it), so an expression that only a newer cluster understands is reported.
//
// stdin:  {"kubernetesVersion": "1.33", "policies": [<ValidatingAdmissionPolicy>],
//
//	"bindings": [<ValidatingAdmissionPolicyBinding>], "namespaces": {<name>: {<label>: <value>}},
//	"requests": [{"name", "operation", "namespace", "subResource", "object", "oldObject"}]}
//
// stdout: {"build": {...}, "compatibilityVersion", "error", "policies": [{"name", "errors": [...]}],
//
//	"results": [{"request", "allowed", "status", "warnings", "auditAnnotations",
//	"policies": [{"policy", "matched", "decisions": [{"index", "evaluation", "action", "message", "reason"}]}]}]}
//
// Exit status: 0 when every policy compiled, 1 when one did not (reported in "policies" and
// "error"), 2 when the input could not be read.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/apiserver/pkg/admission"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/policy/generic"
	"k8s.io/apiserver/pkg/admission/plugin/policy/matching"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/cel/environment"
	"k8s.io/apiserver/pkg/features"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/apiserver/pkg/warning"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

type request struct {
	Name        string          `json:"name"`
	Operation   string          `json:"operation"`
	Namespace   string          `json:"namespace"`
	SubResource string          `json:"subResource"`
	Object      json.RawMessage `json:"object"`
	OldObject   json.RawMessage `json:"oldObject"`
}

type input struct {
	KubernetesVersion string                       `json:"kubernetesVersion"`
	Policies          []json.RawMessage            `json:"policies"`
	Bindings          []json.RawMessage            `json:"bindings"`
	Namespaces        map[string]map[string]string `json:"namespaces"`
	Requests          []request                    `json:"requests"`
}

type compileError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

type policyReport struct {
	Name   string         `json:"name"`
	Errors []compileError `json:"errors"`
}

type decision struct {
	Index      int    `json:"index"`
	Evaluation string `json:"evaluation"`
	Action     string `json:"action"`
	Message    string `json:"message"`
	Reason     string `json:"reason"`
}

type policyResult struct {
	Policy string `json:"policy"`
	// The policy's matchConstraints select the request (its matchConditions are part of
	// the decisions: none when they exclude it).
	Matched bool `json:"matched"`
	// The bindings of the policy that select the request (namespace and object selectors,
	// their own matchResources).
	Bindings  []string   `json:"bindings"`
	Decisions []decision `json:"decisions"`
}

type status struct {
	Code    int32  `json:"code"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

type result struct {
	Request          string            `json:"request"`
	Allowed          bool              `json:"allowed"`
	Status           *status           `json:"status"`
	Warnings         []string          `json:"warnings"`
	AuditAnnotations map[string]string `json:"auditAnnotations"`
	Policies         []policyResult    `json:"policies"`
}

type output struct {
	Build                map[string]string `json:"build"`
	CompatibilityVersion string            `json:"compatibilityVersion"`
	Error                string            `json:"error"`
	Policies             []policyReport    `json:"policies"`
	Results              []result          `json:"results"`
}

var scheme = runtime.NewScheme()

func init() {
	if err := corev1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if err := admissionregistrationv1.AddToScheme(scheme); err != nil {
		panic(err)
	}
}

// decoder refuses unknown and duplicate fields, as the API server does for a request with
// fieldValidation=Strict: a misspelt field in a sample or policy fails instead of vanishing.
var decoder = serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()

func decode[T runtime.Object](raw []byte, into T) error {
	obj, _, err := decoder.Decode(raw, nil, into)
	if err != nil {
		return err
	}
	if obj != runtime.Object(into) {
		return fmt.Errorf("decoded a %T, wanted %T", obj, into)
	}
	return nil
}

// The API server's defaults for these types (k8s.io/kubernetes pkg/apis/admissionregistration/v1,
// defaults.go), which is not an importable module; without them an absent namespaceSelector
// would select nothing instead of everything.
func defaultMatchResources(m *admissionregistrationv1.MatchResources) {
	if m == nil {
		return
	}
	if m.MatchPolicy == nil {
		p := admissionregistrationv1.Equivalent
		m.MatchPolicy = &p
	}
	if m.NamespaceSelector == nil {
		m.NamespaceSelector = &metav1.LabelSelector{}
	}
	if m.ObjectSelector == nil {
		m.ObjectSelector = &metav1.LabelSelector{}
	}
	for _, rules := range [][]admissionregistrationv1.NamedRuleWithOperations{m.ResourceRules, m.ExcludeResourceRules} {
		for i := range rules {
			if rules[i].Scope == nil {
				s := admissionregistrationv1.AllScopes
				rules[i].Scope = &s
			}
		}
	}
}

func defaultPolicy(p *admissionregistrationv1.ValidatingAdmissionPolicy) {
	if p.Spec.FailurePolicy == nil {
		f := admissionregistrationv1.Fail
		p.Spec.FailurePolicy = &f
	}
	defaultMatchResources(p.Spec.MatchConstraints)
}

// compilePolicy is the plugin's own compilePolicy (policy/validating/plugin.go, unexported
// there), line for line: the same composited compiler and environment template, the same
// optional variables, StoredExpressions as the plugin uses at admission time.
func compilePolicy(policy *admissionregistrationv1.ValidatingAdmissionPolicy) validating.Validator {
	hasParam := policy.Spec.ParamKind != nil
	strictCost := utilfeature.DefaultFeatureGate.Enabled(features.StrictCostEnforcementForVAP)
	optionalVars := plugincel.OptionalVariableDeclarations{HasParams: hasParam, HasAuthorizer: true, StrictCost: strictCost}
	expressionOptionalVars := plugincel.OptionalVariableDeclarations{HasParams: hasParam, HasAuthorizer: false, StrictCost: strictCost}
	failurePolicy := policy.Spec.FailurePolicy
	var matcher matchconditions.Matcher
	template, err := plugincel.NewCompositionEnv(plugincel.VariablesTypeName,
		environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion(), strictCost))
	if err != nil {
		panic(err)
	}
	filterCompiler := plugincel.NewCompositedCompilerFromTemplate(template)
	filterCompiler.CompileAndStoreVariables(variables(policy), optionalVars, environment.StoredExpressions)
	if conditions := policy.Spec.MatchConditions; len(conditions) > 0 {
		accessors := make([]plugincel.ExpressionAccessor, len(conditions))
		for i := range conditions {
			accessors[i] = (*matchconditions.MatchCondition)(&conditions[i])
		}
		matcher = matchconditions.NewMatcher(filterCompiler.CompileCondition(accessors, optionalVars, environment.StoredExpressions),
			failurePolicy, "policy", "validate", policy.Name)
	}
	return validating.NewValidator(
		filterCompiler.CompileCondition(validations(policy), optionalVars, environment.StoredExpressions),
		matcher,
		filterCompiler.CompileCondition(auditAnnotations(policy), optionalVars, environment.StoredExpressions),
		filterCompiler.CompileCondition(messageExpressions(policy), expressionOptionalVars, environment.StoredExpressions),
		failurePolicy,
	)
}

func variables(policy *admissionregistrationv1.ValidatingAdmissionPolicy) []plugincel.NamedExpressionAccessor {
	out := make([]plugincel.NamedExpressionAccessor, len(policy.Spec.Variables))
	for i, v := range policy.Spec.Variables {
		out[i] = &validating.Variable{Name: v.Name, Expression: v.Expression}
	}
	return out
}

func validations(policy *admissionregistrationv1.ValidatingAdmissionPolicy) []plugincel.ExpressionAccessor {
	out := make([]plugincel.ExpressionAccessor, len(policy.Spec.Validations))
	for i, v := range policy.Spec.Validations {
		out[i] = &validating.ValidationCondition{Expression: v.Expression, Message: v.Message, Reason: v.Reason}
	}
	return out
}

func messageExpressions(policy *admissionregistrationv1.ValidatingAdmissionPolicy) []plugincel.ExpressionAccessor {
	out := make([]plugincel.ExpressionAccessor, len(policy.Spec.Validations))
	for i, v := range policy.Spec.Validations {
		if v.MessageExpression != "" {
			out[i] = &validating.MessageExpressionCondition{MessageExpression: v.MessageExpression}
		}
	}
	return out
}

func auditAnnotations(policy *admissionregistrationv1.ValidatingAdmissionPolicy) []plugincel.ExpressionAccessor {
	out := make([]plugincel.ExpressionAccessor, len(policy.Spec.AuditAnnotations))
	for i, a := range policy.Spec.AuditAnnotations {
		out[i] = &validating.AuditAnnotationCondition{Key: a.Key, ValueExpression: a.ValueExpression}
	}
	return out
}

// creationErrors compiles every expression as the API server does when the policy is
// created (k8s.io/kubernetes pkg/apis/admissionregistration/validation): one composited
// compiler over the base environment of the compatibility version, variables stored in
// order so later expressions may use them, the NewExpressions environment throughout.
func creationErrors(policy *admissionregistrationv1.ValidatingAdmissionPolicy, compat *version.Version) []compileError {
	errs := []compileError{}
	compiler, err := plugincel.NewCompositedCompiler(environment.MustBaseEnvSet(compat, true))
	if err != nil {
		return append(errs, compileError{Field: "spec", Message: err.Error()})
	}
	hasParams := policy.Spec.ParamKind != nil
	opts := plugincel.OptionalVariableDeclarations{HasParams: hasParams, HasAuthorizer: true, StrictCost: true}
	messageOpts := plugincel.OptionalVariableDeclarations{HasParams: hasParams, HasAuthorizer: false, StrictCost: true}
	check := func(field string, accessor plugincel.ExpressionAccessor, o plugincel.OptionalVariableDeclarations) {
		if r := compiler.CompileCELExpression(accessor, o, environment.NewExpressions); r.Error != nil {
			errs = append(errs, compileError{Field: field, Message: r.Error.Error()})
		}
	}
	for i, v := range policy.Spec.Variables {
		r := compiler.CompileAndStoreVariable(&validating.Variable{Name: v.Name, Expression: v.Expression}, opts, environment.NewExpressions)
		if r.Error != nil {
			errs = append(errs, compileError{Field: fmt.Sprintf("spec.variables[%d].expression", i), Message: r.Error.Error()})
		}
	}
	for i := range policy.Spec.MatchConditions {
		check(fmt.Sprintf("spec.matchConditions[%d].expression", i),
			(*matchconditions.MatchCondition)(&policy.Spec.MatchConditions[i]), opts)
	}
	for i, v := range policy.Spec.Validations {
		check(fmt.Sprintf("spec.validations[%d].expression", i), &validating.ValidationCondition{Expression: v.Expression}, opts)
		if v.MessageExpression != "" {
			check(fmt.Sprintf("spec.validations[%d].messageExpression", i),
				&validating.MessageExpressionCondition{MessageExpression: v.MessageExpression}, messageOpts)
		}
	}
	for i, a := range policy.Spec.AuditAnnotations {
		check(fmt.Sprintf("spec.auditAnnotations[%d].valueExpression", i),
			&validating.AuditAnnotationCondition{Key: a.Key, ValueExpression: a.ValueExpression}, opts)
	}
	return errs
}

// recordingAttributes keeps the audit annotations the dispatcher publishes (Audit action).
type recordingAttributes struct {
	admission.Attributes
	annotations map[string]string
}

func (r *recordingAttributes) AddAnnotation(key, value string) error {
	r.annotations[key] = value
	return r.Attributes.AddAnnotation(key, value)
}

type warnings []string

func (w *warnings) AddWarning(_, text string) { *w = append(*w, text) }

// noOpinion answers every authorizer check in an expression: the policies here make none.
var noOpinion = authorizer.AuthorizerFunc(func(context.Context, authorizer.Attributes) (authorizer.Decision, string, error) {
	return authorizer.DecisionNoOpinion, "the harness has no authorizer", nil
})

var podResource = corev1.SchemeGroupVersion.WithResource("pods")
var podKind = corev1.SchemeGroupVersion.WithKind("Pod")

func pod(raw json.RawMessage) (runtime.Object, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	p := &corev1.Pod{}
	if err := decode(raw, p); err != nil {
		return nil, err
	}
	return p, nil
}

func attributes(r request) (*recordingAttributes, error) {
	obj, err := pod(r.Object)
	if err != nil {
		return nil, fmt.Errorf("object: %w", err)
	}
	old, err := pod(r.OldObject)
	if err != nil {
		return nil, fmt.Errorf("oldObject: %w", err)
	}
	name := ""
	if p, ok := obj.(*corev1.Pod); ok {
		name = p.Name
	}
	op := admission.Operation(r.Operation)
	if op != admission.Create && op != admission.Update && op != admission.Delete && op != admission.Connect {
		return nil, fmt.Errorf("operation %q: allowed: CREATE, UPDATE, DELETE, CONNECT", r.Operation)
	}
	a := admission.NewAttributesRecord(obj, old, podKind, r.Namespace, name, podResource, r.SubResource, op,
		nil, false, &user.DefaultInfo{Name: "cel-harness"})
	return &recordingAttributes{Attributes: a, annotations: map[string]string{}}, nil
}

// namespaceLister holds every namespace the requests name, labelled as the API server labels
// namespaces (kubernetes.io/metadata.name) plus the labels the input gives.
func namespaceLister(in input) corelisters.NamespaceLister {
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	names := map[string]bool{}
	for name := range in.Namespaces {
		names[name] = true
	}
	for _, r := range in.Requests {
		if r.Namespace != "" {
			names[r.Namespace] = true
		}
	}
	for name := range names {
		labels := map[string]string{corev1.LabelMetadataName: name}
		for k, v := range in.Namespaces[name] {
			labels[k] = v
		}
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
		if err := indexer.Add(ns); err != nil {
			panic(err)
		}
	}
	return corelisters.NewNamespaceLister(indexer)
}

func run(in input) (output, error) {
	out := output{Build: buildInfo(), Policies: []policyReport{}, Results: []result{}}
	target, err := version.ParseMajorMinor(in.KubernetesVersion)
	if err != nil {
		return out, fmt.Errorf("kubernetesVersion %q: %w", in.KubernetesVersion, err)
	}
	// An API server of version 1.N compiles new expressions for compatibility version 1.(N-1).
	compat := version.MajorMinor(target.Major(), target.Minor()-1)
	out.CompatibilityVersion = compat.String()

	var hooks []validating.PolicyHook
	var failed []string
	for i, raw := range in.Policies {
		p := &admissionregistrationv1.ValidatingAdmissionPolicy{}
		if err := decode(raw, p); err != nil {
			return out, fmt.Errorf("policies[%d]: %w", i, err)
		}
		defaultPolicy(p)
		report := policyReport{Name: p.Name, Errors: creationErrors(p, compat)}
		if len(report.Errors) > 0 {
			failed = append(failed, p.Name)
		}
		out.Policies = append(out.Policies, report)
		hooks = append(hooks, validating.PolicyHook{Policy: p, Evaluator: compilePolicy(p)})
	}
	for i, raw := range in.Bindings {
		b := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}
		if err := decode(raw, b); err != nil {
			return out, fmt.Errorf("bindings[%d]: %w", i, err)
		}
		defaultMatchResources(b.Spec.MatchResources)
		found := false
		for h := range hooks {
			if hooks[h].Policy.Name == b.Spec.PolicyName {
				hooks[h].Bindings = append(hooks[h].Bindings, b)
				found = true
			}
		}
		if !found {
			return out, fmt.Errorf("bindings[%d] %s: policyName %q names no policy of the input", i, b.Name, b.Spec.PolicyName)
		}
	}
	if len(failed) > 0 {
		out.Error = fmt.Sprintf("policies that do not compile: %s", strings.Join(failed, ", "))
	}

	// The namespace client is only asked for namespaces the lister lacks; the lister holds all.
	policyMatcher := generic.NewPolicyMatcher(matching.NewMatcher(namespaceLister(in), nil))
	dispatcher := validating.NewDispatcher(noOpinion, policyMatcher)
	objects := admission.NewObjectInterfacesFromScheme(scheme)
	for i, r := range in.Requests {
		attrs, err := attributes(r)
		if err != nil {
			return out, fmt.Errorf("requests[%d] %s: %w", i, r.Name, err)
		}
		res := result{Request: r.Name, Allowed: true, Warnings: []string{}, Policies: []policyResult{}}
		ctx := context.Background()
		var ns *corev1.Namespace
		if r.Namespace != "" {
			if ns, err = policyMatcher.GetNamespace(ctx, r.Namespace); err != nil {
				return out, err
			}
		}
		// Each policy on its own, every validation's decision whatever the bindings say.
		for _, hook := range hooks {
			pr := policyResult{Policy: hook.Policy.Name, Bindings: []string{}, Decisions: []decision{}}
			matches, gvr, gvk, err := policyMatcher.DefinitionMatches(attrs, objects,
				validating.NewValidatingAdmissionPolicyAccessor(hook.Policy))
			if err != nil {
				return out, fmt.Errorf("requests[%d] %s: matching %s: %w", i, r.Name, hook.Policy.Name, err)
			}
			pr.Matched = matches
			for _, b := range hook.Bindings {
				selected, err := policyMatcher.BindingMatches(attrs, objects, validating.NewValidatingAdmissionPolicyBindingAccessor(b))
				if err != nil {
					return out, fmt.Errorf("requests[%d] %s: matching binding %s: %w", i, r.Name, b.Name, err)
				}
				if selected {
					pr.Bindings = append(pr.Bindings, b.Name)
				}
			}
			if matches {
				versioned, err := admission.NewVersionedAttributes(attrs, gvk, objects)
				if err != nil {
					return out, err
				}
				validated := hook.Evaluator.Validate(ctx, gvr, versioned, nil, ns, celconfig.RuntimeCELCostBudget, noOpinion)
				for d, dec := range validated.Decisions {
					pr.Decisions = append(pr.Decisions, decision{Index: d, Evaluation: string(dec.Evaluation),
						Action: string(dec.Action), Message: dec.Message, Reason: string(dec.Reason)})
				}
			}
			res.Policies = append(res.Policies, pr)
		}
		// The whole admission verdict, as the plugin's dispatcher reaches it from the bindings.
		var recorded warnings
		dispatchAttrs, err := attributes(r)
		if err != nil {
			return out, err
		}
		err = dispatcher.Dispatch(warning.WithWarningRecorder(ctx, &recorded), dispatchAttrs, objects, hooks)
		var statusErr *apierrors.StatusError
		switch {
		case err == nil:
		case errors.As(err, &statusErr):
			res.Allowed = false
			res.Status = &status{Code: statusErr.ErrStatus.Code, Reason: string(statusErr.ErrStatus.Reason), Message: statusErr.ErrStatus.Message}
		default:
			return out, fmt.Errorf("requests[%d] %s: dispatch: %w", i, r.Name, err)
		}
		res.Warnings = append(res.Warnings, recorded...)
		res.AuditAnnotations = dispatchAttrs.annotations
		out.Results = append(out.Results, res)
	}
	return out, nil
}

func buildInfo() map[string]string {
	info := map[string]string{}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	info["go"] = bi.GoVersion
	for _, dep := range bi.Deps {
		switch dep.Path {
		case "k8s.io/apiserver", "k8s.io/api", "k8s.io/apimachinery", "github.com/google/cel-go":
			info[dep.Path] = dep.Version
		}
	}
	return info
}

func main() {
	// The plugin logs what it also returns (e.g. a failed messageExpression); keep stderr for
	// the harness's own failures.
	klog.SetOutput(io.Discard)
	klog.LogToStderr(false)
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "read stdin:", err)
		os.Exit(2)
	}
	var in input
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		fmt.Fprintln(os.Stderr, "decode input:", err)
		os.Exit(2)
	}
	out, err := run(in)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	sort.SliceStable(out.Policies, func(i, j int) bool { return out.Policies[i].Name < out.Policies[j].Name })
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "encode output:", err)
		os.Exit(2)
	}
	if out.Error != "" {
		os.Exit(1)
	}
}
