package config

import (
	"fmt"
	"strings"
	"time"
)

// The exports and imports of an account in the configuration file, as the
// reference server writes them:
//
//	accounts {
//	  A {
//	    exports: [
//	      { stream: "events.>" }                          # every account
//	      { stream: "audit.>", accounts: [B] }            # only B
//	      { service: "svc.*", response_type: stream, response_threshold: "5s" }
//	    ]
//	  }
//	  B {
//	    imports: [
//	      { stream: { account: A, subject: "events.>" }, prefix: "from_a" }
//	      { stream: { account: A, subject: "events.*" }, to: "a_events.*" }
//	      { service: { account: A, subject: "svc.*" }, to: "a.svc.*" }
//	    ]
//	  }
//	}

func init() {
	accountKeys["exports"] = func(cp *configParser, a *accountEntry, v cval) {
		a.exports = append(a.exports, cp.exportList(v)...)
	}
	accountKeys["imports"] = func(cp *configParser, a *accountEntry, v cval) {
		a.imports = append(a.imports, cp.importList(v)...)
	}
}

var exportKeys = map[string]keyHandler[ExportOptions]{
	"stream":  strKey(func(e *ExportOptions) *string { return &e.Stream }),
	"service": strKey(func(e *ExportOptions) *string { return &e.Service }),
	"accounts": func(cp *configParser, e *ExportOptions, v cval) {
		e.Accounts = append(e.Accounts, cp.stringList(v)...)
	},
	"response_type": func(cp *configParser, e *ExportOptions, v cval) {
		s, ok := cp.str(v)
		if !ok {
			return
		}
		switch t := strings.ToLower(s); t {
		case ResponseSingleton, ResponseStream, ResponseChunked:
			e.ResponseType = t
		default:
			cp.errorf(v, "unknown response type %q (singleton, stream or chunked)", s)
		}
	},
	"response_threshold": durationKey(func(e *ExportOptions) *time.Duration { return &e.ResponseThreshold }),
	// Accepted and without effect in midge: no accounts JWTs, no tracing.
	"account_token_position": func(*configParser, *ExportOptions, cval) {},
	"advertise":              func(*configParser, *ExportOptions, cval) {},
	"allow_trace":            func(*configParser, *ExportOptions, cval) {},
}

func init() {
	exportKeys["response"] = exportKeys["response_type"]
	exportKeys["threshold"] = exportKeys["response_threshold"]
	exportKeys["response_times"] = exportKeys["response_threshold"]
}

func (cp *configParser) exportList(v cval) []ExportOptions {
	list, ok := cp.array(v)
	if !ok {
		return nil
	}
	var out []ExportOptions
	for i, item := range list {
		iv := elemValue(item, v.path, i)
		m, ok := cp.mapValue(iv)
		if !ok {
			continue
		}
		var e ExportOptions
		applySection(cp, &e, m, exportKeys, iv.path)
		switch {
		case (e.Stream == "") == (e.Service == ""):
			cp.errorf(iv, "an export needs exactly one of stream or service")
		case e.Stream != "" && (e.ResponseType != "" || e.ResponseThreshold != 0):
			cp.errorf(iv, "response settings apply to service exports only")
		default:
			out = append(out, e)
		}
	}
	return out
}

var importKeys = map[string]keyHandler[ImportOptions]{
	"stream": func(cp *configParser, im *ImportOptions, v cval) {
		im.Stream = cp.importSource(v)
	},
	"service": func(cp *configParser, im *ImportOptions, v cval) {
		im.Service = cp.importSource(v)
	},
	"prefix": strKey(func(im *ImportOptions) *string { return &im.Prefix }),
	"to":     strKey(func(im *ImportOptions) *string { return &im.To }),
	// Accepted and without effect in midge.
	"share":       func(*configParser, *ImportOptions, cval) {},
	"allow_trace": func(*configParser, *ImportOptions, cval) {},
}

var importSourceKeys = map[string]keyHandler[ImportSource]{
	"account": strKey(func(s *ImportSource) *string { return &s.Account }),
	"subject": strKey(func(s *ImportSource) *string { return &s.Subject }),
}

func (cp *configParser) importSource(v cval) *ImportSource {
	m, ok := cp.mapValue(v)
	if !ok {
		return nil
	}
	var s ImportSource
	applySection(cp, &s, m, importSourceKeys, v.path)
	if s.Account == "" || s.Subject == "" {
		cp.errorf(v, "an import names an account and a subject")
		return nil
	}
	return &s
}

func (cp *configParser) importList(v cval) []ImportOptions {
	list, ok := cp.array(v)
	if !ok {
		return nil
	}
	var out []ImportOptions
	for i, item := range list {
		iv := elemValue(item, v.path, i)
		m, ok := cp.mapValue(iv)
		if !ok {
			continue
		}
		var im ImportOptions
		applySection(cp, &im, m, importKeys, iv.path)
		switch {
		case (im.Stream == nil) == (im.Service == nil):
			cp.errorf(iv, "an import needs exactly one of stream or service")
		case im.Service != nil && im.Prefix != "":
			cp.errorf(iv, "prefix applies to stream imports only; a service import remaps with to")
		case im.Prefix != "" && im.To != "":
			cp.errorf(iv, "a stream import takes prefix or to, not both")
		default:
			out = append(out, im)
		}
	}
	return out
}

// String describes an import for error messages.
func (im ImportOptions) String() string {
	if im.Stream != nil {
		return fmt.Sprintf("stream import %q from account %q", im.Stream.Subject, im.Stream.Account)
	}
	if im.Service != nil {
		return fmt.Sprintf("service import %q from account %q", im.Service.Subject, im.Service.Account)
	}
	return "empty import"
}
