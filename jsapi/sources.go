package jsapi

import (
	"fmt"
	"strings"

	"github.com/midgemq/midge/jetstore"
)

// Mirrors and sources as stream info shows them.

// sourceInfo is a mirror's or source's state as clients receive it.
type sourceInfo struct {
	*jetstore.SourceInfo
	Error *apiError `json:"error,omitempty"`
}

func sourcesInfo(st *jetstore.Stream) (*sourceInfo, []*sourceInfo) {
	wrap := func(si *jetstore.SourceInfo) *sourceInfo {
		out := &sourceInfo{SourceInfo: si}
		if si.Error != "" {
			out.Error = jsErrMirrorSetup.with(si.Error)
			if st.Config().Mirror == nil {
				out.Error = jsErrSourceSetup.with(si.Error)
			}
		}
		return out
	}
	m, srcs := st.SourcesInfo()
	var mirror *sourceInfo
	if m != nil {
		mirror = wrap(m)
	}
	var sources []*sourceInfo
	for _, s := range srcs {
		sources = append(sources, wrap(s))
	}
	return mirror, sources
}

// resolveSource finds the stream a mirror or source copies: in the
// account's own store, or, for a source whose external API prefix is a
// service import of another account's JetStream API (the way clients
// reach another account's streams), in that account's store. The deliver
// prefix needs no import: midge copies from the other store directly.
//
// It runs on the feeds' goroutines, which start while the store is being
// opened (before ja.store is set): the own store is reached through the
// target stream.
func (ja *jsAccount) resolveSource(target *jetstore.Stream, src *jetstore.StreamSource) (*jetstore.Stream, error) {
	if src.External == nil || src.External.APIPrefix == "" {
		return target.Sibling(src.Name)
	}
	create := jsAPIPrefix + "CONSUMER.CREATE." + src.Name
	for _, probe := range []string{".CONSUMER.CREATE." + src.Name, ".CONSUMER.CREATE." + src.Name + ".source"} {
		acc, subject, ok := ja.acc.ServiceImportTarget(src.External.APIPrefix + probe)
		if !ok || !strings.HasPrefix(subject, create) {
			continue
		}
		other := ja.js.of(acc)
		if other == nil {
			return nil, fmt.Errorf("%w (account %s)", ErrNoJetStream, acc.Name())
		}
		return other.store.Stream(src.Name)
	}
	return nil, fmt.Errorf("no service import maps %s.CONSUMER.CREATE.%s onto another account's JetStream API",
		src.External.APIPrefix, src.Name)
}
