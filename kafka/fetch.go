package kafka

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fetch and ListOffsets. A fetch reads each requested partition from its
// offset, within the partition's and the request's byte budgets (the
// first record always goes out, however large, so a consumer never
// stalls). When fewer than MinBytes are found it waits, up to MaxWait,
// for the streams to commit more, then reads again. Fetch sessions are
// not kept: every response carries session id 0, which tells the client
// to send full requests.

// maxFetchWait bounds a long poll whatever the client asks.
const maxFetchWait = 30 * time.Second

// fetchScratch is reused across the partitions of one fetch.
type fetchScratch struct {
	recs    []Record
	batch   []byte
	records []byte
}

func (c *conn) handleFetch(req *kmsg.FetchRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	if req.SessionID != 0 || req.SessionEpoch > 0 {
		resp.ErrorCode = errFetchSessionIDNotFound
		return resp
	}
	wait := min(time.Duration(req.MaxWaitMillis)*time.Millisecond, maxFetchWait)
	deadline := time.Now().Add(wait)
	minBytes := int(req.MinBytes)

	// Watch before the first read so that a commit between the read and
	// the wait is not missed.
	var wake <-chan struct{}
	if wait > 0 && minBytes > 0 {
		var stop func()
		wake, stop = c.watchTopics(req)
		defer stop()
	}
	var scratch fetchScratch
	for {
		resp.Topics = resp.Topics[:0]
		n := c.fetchOnce(req, resp, &scratch)
		left := time.Until(deadline)
		if n >= minBytes || wake == nil || left <= 0 || c.ctx.Err() != nil || c.fetchHasError(resp) {
			c.srv.stats.recordBytesOut.Add(uint64(n))
			return resp
		}
		t := time.NewTimer(left)
		select {
		case <-wake:
			t.Stop()
		case <-t.C:
			// One last read at the deadline.
		case <-c.ctx.Done():
			t.Stop()
		}
	}
}

// fetchHasError reports a partition error worth answering at once.
func (c *conn) fetchHasError(resp *kmsg.FetchResponse) bool {
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode != errNone {
				return true
			}
		}
	}
	return false
}

// watchTopics merges the wake-ups of every requested topic into one
// channel.
func (c *conn) watchTopics(req *kmsg.FetchRequest) (<-chan struct{}, func()) {
	merged := make(chan struct{}, 1)
	done := make(chan struct{})
	var stops []func()
	seen := make(map[string]bool)
	for _, t := range req.Topics {
		if seen[t.Topic] {
			continue
		}
		seen[t.Topic] = true
		ch, stop, err := c.backend().Watch(t.Topic)
		if err != nil {
			continue
		}
		stops = append(stops, stop)
		go func() {
			for {
				select {
				case <-ch:
					select {
					case merged <- struct{}{}:
					default:
					}
				case <-done:
					return
				}
			}
		}()
	}
	return merged, func() {
		close(done)
		for _, stop := range stops {
			stop()
		}
	}
}

// fetchOnce fills the response with what is readable now and returns the
// record bytes found.
func (c *conn) fetchOnce(req *kmsg.FetchRequest, resp *kmsg.FetchResponse, sc *fetchScratch) int {
	s := c.srv
	budget := int(req.MaxBytes)
	if req.Version < 3 || budget <= 0 {
		budget = int(s.cfg.MaxRequestSize)
	}
	total := 0
	for _, rt := range req.Topics {
		t := kmsg.NewFetchResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewFetchResponseTopicPartition()
			p.Partition = rp.Partition
			p.PreferredReadReplica = -1
			p.RecordBatches = []byte{} // empty, not null: librdkafka rejects a null record set
			offs, err := c.backend().Offsets(rt.Topic, rp.Partition)
			if err != nil {
				p.ErrorCode = errorCode(err)
				t.Partitions = append(t.Partitions, p)
				continue
			}
			p.HighWatermark, p.LastStableOffset, p.LogStartOffset = offs.HighWatermark, offs.HighWatermark, offs.LogStart
			switch {
			case rp.FetchOffset < offs.LogStart || rp.FetchOffset > offs.HighWatermark:
				p.ErrorCode = errOffsetOutOfRange
			case rp.FetchOffset < offs.HighWatermark && (budget > 0 || total == 0):
				limit := min(int(rp.PartitionMaxBytes), budget)
				if total == 0 {
					limit = max(limit, 1) // the first record goes out whatever its size
				}
				recs, err := c.backend().Fetch(rt.Topic, rp.Partition, rp.FetchOffset, limit, sc.recs[:0])
				sc.recs = recs
				if err != nil {
					p.ErrorCode = errorCode(err)
					break
				}
				if len(recs) > 0 {
					size := 0
					for i := range recs {
						size += recordSize(&recs[i])
					}
					batch := appendFetchBatch(nil, recs, &sc.records)
					p.RecordBatches = batch
					total += size
					budget -= size
					s.stats.recordsOut.Add(uint64(len(recs)))
				}
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return total
}

func (c *conn) handleListOffsets(req *kmsg.ListOffsetsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, rt := range req.Topics {
		t := kmsg.NewListOffsetsResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewListOffsetsResponseTopicPartition()
			p.Partition = rp.Partition
			p.LeaderEpoch = 0
			p.Offset, p.Timestamp, p.ErrorCode = c.listOffset(rt.Topic, rp.Partition, rp.Timestamp)
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

// Special timestamps of ListOffsets.
const (
	listLatest   = -1
	listEarliest = -2
)

func (c *conn) listOffset(topic string, partition int32, ts int64) (offset, timestamp int64, code int16) {
	offs, err := c.backend().Offsets(topic, partition)
	if err != nil {
		return -1, -1, errorCode(err)
	}
	switch {
	case ts == listLatest:
		return offs.HighWatermark, -1, errNone
	case ts == listEarliest:
		return offs.LogStart, -1, errNone
	case ts < 0:
		return -1, -1, errInvalidRequest
	}
	off, at, found, err := c.backend().OffsetForTime(topic, partition, ts)
	if err != nil {
		return -1, -1, errorCode(err)
	}
	if !found {
		return -1, -1, errNone
	}
	return off, at, errNone
}
