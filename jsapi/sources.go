package jsapi

import (
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
