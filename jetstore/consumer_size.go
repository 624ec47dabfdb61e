package jetstore

// What a delivery costs a pull request's byte budget (max_bytes). Clients
// of the reference server count what reaches them: the subject, the reply
// subject that acknowledges the message, the header and the data. Only the
// layer above knows how the reply is spelled, so a Sender that adds to the
// stored message says how much it sends by implementing DeliverySizer.

// DeliverySizer is implemented by a Sender whose deliveries carry more (or
// less) than the stored message: DeliverySize is the number of bytes of
// subject, reply subject, header and data it would send for d. It is called
// from the consumer's goroutine like Deliver.
type DeliverySizer interface {
	DeliverySize(d *Delivery) int
}

// pullSizeLocked is the size a delivery of m counts against a pull
// request's max_bytes: the Sender's figure for the delivery it would make
// now, or the stored subject, header and data without a DeliverySizer.
// Nothing changes; the delivery itself is made later by sendMsgLocked.
func (c *Consumer) pullSizeLocked(m *StoredMsg, redelivery bool) int {
	sizer, ok := c.send.(DeliverySizer)
	if !ok {
		return len(m.Subject) + len(m.Header) + len(m.Data)
	}
	d := Delivery{
		Stream:      c.st.Name(),
		Consumer:    c.name,
		Subject:     m.Subject,
		Header:      m.Header,
		Data:        m.Data,
		StreamSeq:   m.Seq,
		ConsumerSeq: c.cur.dseq + 1,
		Deliveries:  1,
		Time:        m.Time,
		Pending:     c.pendingAfterLocked(m.Seq, redelivery),
		HeadersOnly: c.cfg.HeadersOnly,
	}
	if redelivery {
		if p := c.acks.get(m.Seq); p != nil {
			d.Deliveries = p.dc + 1
		}
	}
	return sizer.DeliverySize(&d)
}

// pendingAfterLocked is what the cursor's pending count will be once seq
// is delivered (cursor.delivered): a redelivery leaves it, a first
// delivery takes one off the backlog or the count.
func (c *Consumer) pendingAfterLocked(seq uint64, redelivery bool) uint64 {
	cur := &c.cur
	if redelivery {
		return cur.pending()
	}
	if len(cur.lps) > 0 && cur.lps[0] == seq {
		return uint64(max(cur.npending, 0)) + uint64(len(cur.lps)-1)
	}
	return uint64(max(cur.npending-1, 0)) + uint64(len(cur.lps))
}
