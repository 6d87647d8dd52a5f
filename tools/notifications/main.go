// Command notifications-harness evaluates Argo CD notification triggers and templates with
// the notifications engine that Argo CD v3.4.4 links (github.com/argoproj/notifications-engine,
// expr, sprig), the way Argo CD's notifications controller calls it, and prints what each
// Application would fire and render. It never sends anything: every configured service is
// constructed (so its options are validated) and then replaced by a recorder.
//
// stdin:  {"configmap": {<argocd-notifications-cm data>}, "secret": {<key>: <value>},
//
//	"applications": [<Application, unstructured>, ...]}
//
// stdout: {"build": {...}, "results": [{"app", "trigger", "skipped", "destinations",
//
//	"conditions": [{"triggered", "once_per", "error", "notifications": [...]}]}]}
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/argoproj/notifications-engine/pkg/api"
	"github.com/argoproj/notifications-engine/pkg/services"
	"github.com/argoproj/notifications-engine/pkg/subscriptions"
	"github.com/argoproj/notifications-engine/pkg/triggers"
	"github.com/argoproj/notifications-engine/pkg/util/text"
	"github.com/expr-lang/expr"
	log "github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	argostrings "github.com/argoproj/argo-cd/v3/util/notification/expression/strings"
	argotime "github.com/argoproj/argo-cd/v3/util/notification/expression/time"
)

type input struct {
	ConfigMap    map[string]string `json:"configmap"`
	Secret       map[string]string `json:"secret"`
	Applications []map[string]any  `json:"applications"`
}

type destination struct {
	Service   string `json:"service"`
	Recipient string `json:"recipient"`
}

// request is what the service would send; for webhook services it is the HTTP request the
// engine's webhook service builds (method, body, path appended to the URL; the URL itself is
// left out: it comes from the secret).
type request struct {
	Method string `json:"method"`
	Body   string `json:"body"`
	Path   string `json:"path"`
}

type rendered struct {
	Service      string                 `json:"service"`
	ServiceType  string                 `json:"service_type"`
	Recipient    string                 `json:"recipient"`
	Templates    []string               `json:"templates"`
	Error        string                 `json:"error"`
	Notification *services.Notification `json:"notification"`
	Request      *request               `json:"request"`
}

type condition struct {
	Index         int        `json:"index"`
	Description   string     `json:"description"`
	When          string     `json:"when"`
	OncePerExpr   string     `json:"once_per_expression"`
	Send          []string   `json:"send"`
	Triggered     bool       `json:"triggered"`
	OncePer       string     `json:"once_per"`
	Error         string     `json:"error"`
	OncePerError  string     `json:"once_per_error"`
	Notifications []rendered `json:"notifications"`
}

type result struct {
	App          string        `json:"app"`
	Trigger      string        `json:"trigger"`
	Skipped      string        `json:"skipped"`
	Destinations []destination `json:"destinations"`
	Error        string        `json:"error"`
	Conditions   []condition   `json:"conditions"`
}

type output struct {
	Build   map[string]string `json:"build"`
	Error   string            `json:"error"`
	Results []result          `json:"results"`
}

// recorder stands in for a real notification service: Send keeps what it was given.
type recorder struct {
	last *services.Notification
}

func (r *recorder) Send(n services.Notification, _ services.Destination) error {
	r.last = &n
	return nil
}

// getVars builds the template and expression variables as Argo CD v3.4.4 does
// (util/notification/settings/settings.go initGetVars and util/notification/expression):
// app, context (with the legacy notificationType), secrets, appProject, and the `time` and
// `strings` helpers imported from argo-cd itself. Not reproduced: `repo.*` (it needs a
// running repo server) and appProject, which Argo CD reads from the cluster; both are empty here.
func getVars(context map[string]string, secret *corev1.Secret) api.GetVars {
	return func(obj map[string]any, dest services.Destination) map[string]any {
		ctx := map[string]string{"notificationType": dest.Service}
		for k, v := range context {
			ctx[k] = v
		}
		return map[string]any{
			"app":        obj,
			"context":    ctx,
			"secrets":    secret.Data,
			"appProject": map[string]any{},
			"time":       argotime.NewExprs(),
			"strings":    argostrings.NewExprs(),
		}
	}
}

// syncStatusRefreshed is Argo CD v3.4.4's isAppSyncStatusRefreshed
// (notification_controller/controller/controller.go, Apache-2.0): the controller skips an
// Application whose completed operation finished after its last reconciliation.
func syncStatusRefreshed(app *unstructured.Unstructured) bool {
	if _, ok, err := unstructured.NestedMap(app.Object, "status", "operationState"); !ok || err != nil {
		return true
	}
	phase, ok, err := unstructured.NestedString(app.Object, "status", "operationState", "phase")
	if !ok || err != nil {
		return true
	}
	switch phase {
	case "Failed", "Error", "Succeeded":
		finishedAtRaw, ok, err := unstructured.NestedString(app.Object, "status", "operationState", "finishedAt")
		if !ok || err != nil {
			return false
		}
		finishedAt, err := time.Parse(time.RFC3339, finishedAtRaw)
		if err != nil {
			return false
		}
		var reconciledAt, observedAt time.Time
		if raw, ok, err := unstructured.NestedString(app.Object, "status", "reconciledAt"); ok && err == nil {
			reconciledAt, _ = time.Parse(time.RFC3339, raw)
		}
		if raw, ok, err := unstructured.NestedString(app.Object, "status", "observedAt"); ok && err == nil {
			observedAt, _ = time.Parse(time.RFC3339, raw)
		}
		if finishedAt.After(reconciledAt) && finishedAt.After(observedAt) {
			return false
		}
	}
	return true
}

func buildInfo() map[string]string {
	info := map[string]string{}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	info["go"] = bi.GoVersion
	for _, dep := range bi.Deps {
		info[dep.Path] = dep.Version
	}
	return info
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// serviceTypes maps each service name to its type, from the `service.<type>(.<name>)` keys
// api.ParseConfig reads.
func serviceTypes(data map[string]string) map[string]string {
	types := map[string]string{}
	for k := range data {
		parts := strings.Split(k, ".")
		switch {
		case len(parts) == 3 && parts[0] == "service":
			types[parts[2]] = parts[1]
		case len(parts) == 2 && parts[0] == "service":
			types[parts[1]] = parts[1]
		}
	}
	return types
}

func run(in input) output {
	out := output{Build: buildInfo(), Results: []result{}}
	secret := &corev1.Secret{Data: map[string][]byte{}}
	for k, v := range in.Secret {
		secret.Data[k] = []byte(v)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "argocd-notifications-cm"}, Data: in.ConfigMap}
	cfg, err := api.ParseConfig(cm, secret)
	if err != nil {
		out.Error = "parse config: " + err.Error()
		return out
	}
	context := map[string]string{}
	if raw, ok := cm.Data["context"]; ok {
		if err := yaml.Unmarshal([]byte(raw), &context); err != nil {
			out.Error = "parse context: " + err.Error()
			return out
		}
	}
	vars := getVars(context, secret)
	engine, err := api.NewAPI(*cfg, vars)
	if err != nil {
		out.Error = "create API: " + err.Error()
		return out
	}
	recorders := map[string]*recorder{}
	for name := range engine.GetNotificationServices() {
		recorders[name] = &recorder{}
		engine.AddNotificationService(name, recorders[name])
	}
	types := serviceTypes(cm.Data)
	triggerNames := make([]string, 0, len(cfg.Triggers))
	for name := range cfg.Triggers {
		triggerNames = append(triggerNames, name)
	}
	sort.Strings(triggerNames)

	for _, obj := range in.Applications {
		app := &unstructured.Unstructured{Object: obj}
		// The controller's own destinations: global subscriptions plus the Application's
		// subscription annotations (its AppProject's annotations are not available here).
		dests := cfg.GetGlobalDestinations(app.GetLabels())
		dests.Merge(subscriptions.NewAnnotations(app.GetAnnotations()).GetDestinations(cfg.DefaultTriggers, cfg.ServiceDefaultTriggers))
		dests = dests.Dedup()
		skipped := ""
		if !syncStatusRefreshed(app) {
			skipped = "sync status out of date (operationState.finishedAt after reconciledAt and observedAt)"
		}
		for _, trigger := range triggerNames {
			res := result{App: app.GetName(), Trigger: trigger, Skipped: skipped, Destinations: []destination{}, Conditions: []condition{}}
			for _, d := range dests[trigger] {
				res.Destinations = append(res.Destinations, destination{Service: d.Service, Recipient: d.Recipient})
			}
			out.Results = append(out.Results, evaluate(engine, cfg.Triggers[trigger], trigger, app.Object, dests[trigger], vars, recorders, types, res))
		}
	}
	return out
}

func evaluate(engine api.API, conds []triggers.Condition, trigger string, obj map[string]any, dests []services.Destination,
	vars api.GetVars, recorders map[string]*recorder, types map[string]string, res result) result {
	results, err := engine.RunTrigger(trigger, obj)
	res.Error = errString(err)
	env := vars(obj, services.Destination{})
	for i, c := range conds {
		cond := condition{Index: i, Description: c.Description, When: c.When, OncePerExpr: c.OncePer, Send: c.Send, Notifications: []rendered{}}
		if i < len(results) {
			cond.Triggered = results[i].Triggered
			cond.OncePer = results[i].OncePer
		}
		// The engine only logs evaluation errors; evaluate again, compiled exactly as
		// pkg/triggers does, to report them per condition.
		cond.Error = exprError(text.Coalesce(c.When, "false"), env)
		if cond.Triggered && c.OncePer != "" {
			cond.OncePerError = exprError(c.OncePer, env)
		}
		if cond.Triggered {
			for _, d := range dests {
				r := rendered{Service: d.Service, ServiceType: types[d.Service], Recipient: d.Recipient, Templates: c.Send}
				rec, ok := recorders[d.Service]
				if ok {
					rec.last = nil
				}
				if err := engine.Send(obj, c.Send, d); err != nil {
					r.Error = err.Error()
				} else if ok && rec.last != nil {
					r.Notification = rec.last
					if r.ServiceType == "webhook" {
						r.Request = webhookRequest(*rec.last, d)
					}
				}
				cond.Notifications = append(cond.Notifications, r)
			}
		}
		res.Conditions = append(res.Conditions, cond)
	}
	return res
}

// webhookRequest is the request pkg/services/webhook.go would send: the message as body
// and GET unless the template's webhook entry for this service overrides them.
func webhookRequest(n services.Notification, d services.Destination) *request {
	req := &request{Method: "GET", Body: n.Message}
	if w, ok := n.Webhook[d.Service]; ok {
		req.Body = w.Body
		req.Method = text.Coalesce(w.Method, req.Method)
		req.Path = w.Path
	}
	return req
}

func exprError(source string, env map[string]any) string {
	prog, err := expr.Compile(source)
	if err != nil {
		return "compile: " + err.Error()
	}
	if _, err := expr.Run(prog, env); err != nil {
		return err.Error()
	}
	return ""
}

func main() {
	// The engine logs evaluation errors; they are reported in the output instead.
	log.SetOutput(io.Discard)
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "read stdin:", err)
		os.Exit(2)
	}
	var in input
	if err := json.Unmarshal(raw, &in); err != nil {
		fmt.Fprintln(os.Stderr, "decode input:", err)
		os.Exit(2)
	}
	for i, obj := range in.Applications {
		// Numbers as Kubernetes' unstructured decoder produces them (int64/float64).
		data, _ := json.Marshal(obj)
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(data); err != nil {
			fmt.Fprintf(os.Stderr, "application %d: %v\n", i, err)
			os.Exit(2)
		}
		in.Applications[i] = u.Object
	}
	out := run(in)
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
