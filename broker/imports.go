package broker

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/sublist"
	"github.com/midgemq/midge/transform"
	"github.com/nats-io/nuid"
)

// Exports and imports between accounts, configured in the file.
//
// A stream import is an internal subscription in the exporting account on
// the imported subject: each message published there (on this server) is
// published again in the importing account under its local subject, when
// something there is interested. A service import is an internal
// subscription in the importing account on the local subject: each request
// is published in the exporting account on the exported subject, with a
// reply subject of the import's own (_R_.<import id>.<token>) that an
// internal subscription in the exporter turns back into the requester's
// reply in the importer; a singleton service's reply is forgotten after
// the first response, others' after the export's response threshold. A
// request nobody in the exporter receives is answered with a 503 status,
// as the requester would get without the import.
//
// Imports are wired once, when the broker starts (a reload that changes
// them is refused), and act on messages published on this server: each
// server of a cluster runs its own, so nothing is forwarded twice. Import
// chains are followed, but a set of imports that could send a message
// round in a loop is refused.

// replyPrefix starts the reply subjects of service-import requests in the
// exporting account.
const replyPrefix = "_R_."

// serviceImport routes one service import.
type serviceImport struct {
	importer, exporter *Account
	local              string               // subject pattern in the importer
	remote             string               // subject pattern in the exporter
	tr                 *transform.Transform // local -> remote; nil: same subject
	singleton          bool
	threshold          time.Duration
	prefix             string // reply prefix in the exporter, with its trailing dot

	out  *Publisher // into the exporter
	back *Publisher // into the importer

	mu        sync.Mutex
	replies   map[string]pendingReply // token -> the requester's reply
	lastSweep time.Time
}

type pendingReply struct {
	reply   string
	expires time.Time
}

// streamImport routes one stream import.
type streamImport struct {
	importer *Account
	tr       *transform.Transform // exporter subject -> local; nil: same
	out      *Publisher           // into the importer
}

// wireImports checks every import against the exports and subscribes
// what routes them.
func wireImports(list []config.AccountOptions, accs map[string]*Account) error {
	exports := map[string][]config.ExportOptions{}
	for _, a := range list {
		exports[a.Name] = a.Exports
	}
	if err := checkExports(list); err != nil {
		return err
	}
	if err := checkImportCycles(list); err != nil {
		return err
	}
	for _, a := range list {
		importer := accs[a.Name]
		for _, im := range a.Imports {
			if err := wireImport(importer, im, accs, exports); err != nil {
				return fmt.Errorf("account %q: %s: %w", a.Name, im, err)
			}
		}
	}
	return nil
}

func checkExports(list []config.AccountOptions) error {
	for _, a := range list {
		for _, e := range a.Exports {
			subject := e.Stream + e.Service
			if !sublist.ValidSubject(subject) {
				return fmt.Errorf("account %q: export of invalid subject %q", a.Name, subject)
			}
		}
	}
	return nil
}

// findExport returns the export of the exporter that covers subject for
// the importer.
func findExport(exports []config.ExportOptions, service bool, subject, importer string) (config.ExportOptions, bool) {
	for _, e := range exports {
		pattern := e.Stream
		if service {
			pattern = e.Service
		}
		if pattern == "" || !sublist.IsSubsetMatch(subject, pattern) {
			continue
		}
		if len(e.Accounts) == 0 || slices.Contains(e.Accounts, importer) {
			return e, true
		}
	}
	return config.ExportOptions{}, false
}

func wireImport(importer *Account, im config.ImportOptions, accs map[string]*Account, exports map[string][]config.ExportOptions) error {
	src, service := im.Stream, false
	if im.Service != nil {
		src, service = im.Service, true
	}
	exporter := accs[src.Account]
	switch {
	case exporter == nil:
		return fmt.Errorf("no account %q", src.Account)
	case exporter == importer:
		return fmt.Errorf("an account cannot import from itself")
	case !sublist.ValidSubject(src.Subject):
		return fmt.Errorf("invalid subject %q", src.Subject)
	}
	export, ok := findExport(exports[src.Account], service, src.Subject, importer.name)
	if !ok {
		kind := "stream"
		if service {
			kind = "service"
		}
		return fmt.Errorf("%s import not authorized: account %q exports nothing covering %q to %q",
			kind, src.Account, src.Subject, importer.name)
	}
	if service {
		return wireServiceImport(importer, exporter, src.Subject, im.To, export)
	}
	return wireStreamImport(importer, exporter, src.Subject, im)
}

// destinationOf writes a subject pattern as a transform destination: its
// wildcards "*" become $1, $2... in order.
func destinationOf(pattern string) string {
	tokens := strings.Split(pattern, ".")
	n := 0
	for i, t := range tokens {
		if t == "*" {
			n++
			tokens[i] = "$" + strconv.Itoa(n)
		}
	}
	return strings.Join(tokens, ".")
}

// remap builds the transform from subjects matching from onto to (nil
// when they are the same).
func remap(from, to string) (*transform.Transform, error) {
	if from == to {
		return nil, nil
	}
	if !sublist.ValidSubject(to) {
		return nil, fmt.Errorf("invalid subject %q", to)
	}
	return transform.NewStrict(from, destinationOf(to))
}

func wireStreamImport(importer, exporter *Account, subject string, im config.ImportOptions) error {
	local := subject
	switch {
	case im.Prefix != "":
		local = im.Prefix + "." + subject
	case im.To != "":
		local = im.To
	}
	tr, err := remap(subject, local)
	if err != nil {
		return err
	}
	si := &streamImport{importer: importer, tr: tr, out: importer.NewPublisher()}
	_, err = exporter.SubscribeLocal(subject, "", si.forward)
	return err
}

// forward publishes a message of the exporter in the importer.
func (si *streamImport) forward(subject, reply, hdr, data []byte) {
	local := subject
	if si.tr != nil {
		s, ok := si.tr.Match(string(subject))
		if !ok {
			return
		}
		local = []byte(s)
	}
	if !si.importer.HasInterestBytes(local) {
		return
	}
	si.out.Publish(local, reply, hdr, data)
}

var importIDs atomic.Uint64

func wireServiceImport(importer, exporter *Account, subject, to string, export config.ExportOptions) error {
	local := subject
	if to != "" {
		local = to
	}
	tr, err := remap(local, subject)
	if err != nil {
		return err
	}
	si := &serviceImport{
		importer: importer, exporter: exporter, local: local, remote: subject, tr: tr,
		singleton: export.ResponseType == "" || export.ResponseType == config.ResponseSingleton,
		threshold: export.ResponseThreshold,
		prefix:    replyPrefix + nuid.Next() + strconv.FormatUint(importIDs.Add(1), 10) + ".",
		out:       exporter.NewPublisher(), back: importer.NewPublisher(),
		replies: make(map[string]pendingReply),
	}
	if si.threshold <= 0 {
		si.threshold = config.DefaultResponseThreshold
	}
	if _, err := exporter.SubscribeLocal(si.prefix+"*", "", si.respond); err != nil {
		return err
	}
	if _, err := importer.SubscribeLocal(local, "", si.request); err != nil {
		return err
	}
	importer.addServiceImport(si)
	return nil
}

// request sends an importer's request to the exporter.
func (si *serviceImport) request(subject, reply, hdr, data []byte) {
	remote := subject
	if si.tr != nil {
		s, ok := si.tr.Match(string(subject))
		if !ok {
			return
		}
		remote = []byte(s)
	}
	var mapped []byte
	var token string
	if len(reply) > 0 {
		token = nuid.Next()
		si.track(token, string(reply))
		mapped = []byte(si.prefix + token)
	}
	if si.out.Publish(remote, mapped, hdr, data) || len(reply) == 0 {
		return
	}
	si.mu.Lock()
	delete(si.replies, token)
	si.mu.Unlock()
	hdr503 := make([]byte, 0, 48+len(subject))
	hdr503 = append(hdr503, "NATS/1.0 503\r\nNats-Subject: "...)
	hdr503 = append(hdr503, subject...)
	hdr503 = append(hdr503, "\r\n\r\n"...)
	si.back.Publish(reply, nil, hdr503, nil)
}

// track remembers a requester's reply, forgetting expired ones now and
// then so the table stays bounded by the requests of one threshold.
func (si *serviceImport) track(token, reply string) {
	now := time.Now()
	si.mu.Lock()
	defer si.mu.Unlock()
	if now.Sub(si.lastSweep) > si.threshold/2 || len(si.replies) > 1<<16 {
		for k, p := range si.replies {
			if now.After(p.expires) {
				delete(si.replies, k)
			}
		}
		si.lastSweep = now
	}
	si.replies[token] = pendingReply{reply: reply, expires: now.Add(si.threshold)}
}

// respond passes a response from the exporter back to the requester.
func (si *serviceImport) respond(subject, _, hdr, data []byte) {
	token := string(subject[len(si.prefix):])
	si.mu.Lock()
	p, ok := si.replies[token]
	if ok && (si.singleton || time.Now().After(p.expires)) {
		delete(si.replies, token)
	}
	si.mu.Unlock()
	if !ok || time.Now().After(p.expires) {
		return
	}
	si.back.Publish([]byte(p.reply), nil, hdr, data)
}

// pendingReplies counts the replies the import still routes.
func (si *serviceImport) pendingReplies() int {
	si.mu.Lock()
	defer si.mu.Unlock()
	return len(si.replies)
}

// ServiceImportTarget follows the account's service imports: the account
// and subject a request published here on subject reaches, if an import
// covers it.
func (a *Account) ServiceImportTarget(subject string) (*Account, string, bool) {
	p := a.svcImports.Load()
	if p == nil {
		return nil, "", false
	}
	for _, si := range *p {
		if !sublist.MatchLiteral(subject, si.local) {
			continue
		}
		if si.tr == nil {
			return si.exporter, subject, true
		}
		if s, ok := si.tr.Match(subject); ok {
			return si.exporter, s, true
		}
	}
	return nil, "", false
}

func (a *Account) addServiceImport(si *serviceImport) {
	var list []*serviceImport
	if p := a.svcImports.Load(); p != nil {
		list = slices.Clone(*p)
	}
	list = append(list, si)
	a.svcImports.Store(&list)
}

// importEdge is where an import takes messages (account and subject
// pattern) and where it puts them.
type importEdge struct {
	fromAcc, from, toAcc, to string
	name                     string
}

// checkImportCycles refuses imports through which a message could come
// back to where it started (and be forwarded forever).
func checkImportCycles(list []config.AccountOptions) error {
	var edges []importEdge
	for _, a := range list {
		for _, im := range a.Imports {
			if im.Stream != nil {
				local := im.Stream.Subject
				if im.Prefix != "" {
					local = im.Prefix + "." + local
				} else if im.To != "" {
					local = im.To
				}
				edges = append(edges, importEdge{im.Stream.Account, im.Stream.Subject, a.Name, local, a.Name + ": " + im.String()})
			}
			if im.Service != nil {
				local := im.Service.Subject
				if im.To != "" {
					local = im.To
				}
				edges = append(edges, importEdge{a.Name, local, im.Service.Account, im.Service.Subject, a.Name + ": " + im.String()})
			}
		}
	}
	const (
		unseen = iota
		onPath
		done
	)
	state := make([]int, len(edges))
	var visit func(i int) error
	visit = func(i int) error {
		state[i] = onPath
		for j, f := range edges {
			if f.fromAcc != edges[i].toAcc || !sublist.SubjectsCollide(edges[i].to, f.from) {
				continue
			}
			switch state[j] {
			case onPath:
				return fmt.Errorf("imports form a loop through %s and %s", edges[i].name, f.name)
			case unseen:
				if err := visit(j); err != nil {
					return err
				}
			}
		}
		state[i] = done
		return nil
	}
	for i := range edges {
		if state[i] == unseen {
			if err := visit(i); err != nil {
				return err
			}
		}
	}
	return nil
}
