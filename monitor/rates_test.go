package monitor

import (
	"testing"
	"time"
)

// The ring keeps the newest rateHistoryLen samples, oldest first, each the
// difference of two totals over the time between them.
func TestRateHistoryKeepsTheNewestSamples(t *testing.T) {
	var h rateHistory
	start := time.Unix(1_700_000_000, 0)
	var tot rateTotals
	const n = rateHistoryLen + 25
	for i := 0; i <= n; i++ {
		// Second i adds i messages in, 2i out, 100i bytes each way.
		tot.inMsgs += int64(i)
		tot.outMsgs += 2 * int64(i)
		tot.inBytes += 100 * int64(i)
		tot.outBytes += 100 * int64(i)
		h.record(start.Add(time.Duration(i)*time.Second), tot)
	}
	all := h.since(0)
	if len(all) != rateHistoryLen {
		t.Fatalf("%d samples kept, want %d", len(all), rateHistoryLen)
	}
	for k, s := range all {
		i := n - rateHistoryLen + 1 + k // the second this sample ends
		if s.T != start.Add(time.Duration(i)*time.Second).UnixMilli() ||
			s.InMsgs != float64(i) || s.OutMsgs != 2*float64(i) || s.InBytes != 100*float64(i) {
			t.Fatalf("sample %d = %+v, want the one ending at second %d", k, s, i)
		}
	}
	last := all[len(all)-1].T
	if got := h.since(last - 1); len(got) != 1 || got[0].T != last {
		t.Fatalf("since just before the last sample: %+v", got)
	}
	if got := h.since(last); len(got) != 0 {
		t.Fatalf("since the last sample: %+v", got)
	}
}
