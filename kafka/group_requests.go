package kafka

import (
	"context"
	"net"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The group requests: FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup, OffsetCommit, OffsetFetch, ListGroups, DescribeGroups.

const coordinatorGroup = 0 // FindCoordinator key type of consumer groups

func (c *conn) handleFindCoordinator(req *kmsg.FindCoordinatorRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	host, port := c.srv.advertised(c.nc)
	code := errNone
	var msg *string
	if req.CoordinatorType != coordinatorGroup {
		code, msg = errCoordinatorNotAvailable, kmsg.StringPtr("only consumer group coordinators (no transactions)")
	}
	if req.Version < 4 {
		resp.ErrorCode, resp.ErrorMessage = code, msg
		if code == errNone {
			resp.NodeID, resp.Host, resp.Port = nodeID, host, port
		} else {
			resp.NodeID, resp.Port = -1, -1
		}
		return resp
	}
	for _, key := range req.CoordinatorKeys {
		co := kmsg.NewFindCoordinatorResponseCoordinator()
		co.Key, co.ErrorCode, co.ErrorMessage = key, code, msg
		if code == errNone {
			co.NodeID, co.Host, co.Port = nodeID, host, port
		} else {
			co.NodeID, co.Port = -1, -1
		}
		resp.Coordinators = append(resp.Coordinators, co)
	}
	return resp
}

func (c *conn) remoteHost() string {
	host, _, err := net.SplitHostPort(c.nc.RemoteAddr().String())
	if err != nil {
		return c.nc.RemoteAddr().String()
	}
	return "/" + host
}

func (c *conn) handleJoinGroup(req *kmsg.JoinGroupRequest) kmsg.Response {
	resp, wait := c.acct.groups.join(req, c.clientID, c.remoteHost())
	if wait == nil {
		return resp
	}
	// A join waits for the rebalance, bounded by its timeout plus slack.
	limit := time.Duration(max(req.RebalanceTimeoutMillis, req.SessionTimeoutMillis))*time.Millisecond + 5*time.Second
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case r := <-wait:
		r.SetVersion(req.Version)
		return r
	case <-t.C:
		return joinError(req, errRebalanceInProgress)
	case <-c.ctx.Done():
		return joinError(req, errRebalanceInProgress)
	}
}

func (c *conn) handleSyncGroup(req *kmsg.SyncGroupRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	res, wait, ptype, proto := c.acct.groups.sync(req)
	if wait != nil {
		t := time.NewTimer(time.Duration(defaultMaxSessionMillis) * time.Millisecond)
		defer t.Stop()
		select {
		case res = <-wait:
		case <-t.C:
			res = syncResult{code: errRebalanceInProgress}
		case <-c.ctx.Done():
			res = syncResult{code: errRebalanceInProgress}
		}
	}
	resp.ErrorCode, resp.MemberAssignment = res.code, res.assignment
	if res.code == errNone {
		resp.ProtocolType, resp.Protocol = kmsg.StringPtr(ptype), kmsg.StringPtr(proto)
		if resp.MemberAssignment == nil {
			resp.MemberAssignment = []byte{}
		}
	}
	return resp
}

func (c *conn) handleHeartbeat(req *kmsg.HeartbeatRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	resp.ErrorCode = c.acct.groups.heartbeat(req.Group, req.MemberID, req.Generation)
	return resp
}

func (c *conn) handleLeaveGroup(req *kmsg.LeaveGroupRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	if req.Version < 3 {
		resp.ErrorCode = c.acct.groups.leave(req.Group, []string{req.MemberID})[0]
		return resp
	}
	ids := make([]string, len(req.Members))
	for i, m := range req.Members {
		ids[i] = m.MemberID
	}
	for i, code := range c.acct.groups.leave(req.Group, ids) {
		m := kmsg.NewLeaveGroupResponseMember()
		m.MemberID, m.InstanceID, m.ErrorCode = req.Members[i].MemberID, req.Members[i].InstanceID, code
		resp.Members = append(resp.Members, m)
	}
	return resp
}

func (c *conn) handleOffsetCommit(req *kmsg.OffsetCommitRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	code := errNone
	if req.Group == "" {
		code = errInvalidGroupID
	} else {
		code = c.acct.groups.checkCommit(req.Group, req.MemberID, req.Generation)
	}
	var offsets []CommittedOffset
	if code == errNone {
		now := time.Now()
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				o := CommittedOffset{Topic: t.Topic, Partition: p.Partition, Offset: p.Offset, LeaderEpoch: p.LeaderEpoch, CommittedAt: now}
				if p.Metadata != nil {
					o.Metadata = *p.Metadata
				}
				offsets = append(offsets, o)
			}
		}
		ctx, cancel := context.WithTimeout(c.ctx, adminTimeout)
		err := c.backend().CommitOffsets(ctx, req.Group, offsets)
		cancel()
		if err != nil {
			code = errorCode(err)
			if code == errUnknownServer || code == errKafkaStorage {
				code = errCoordinatorNotAvailable // retriable for every client
			}
			c.srv.log.Warn("storing Kafka group offsets", "group", req.Group, "error", err)
		}
	}
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

func (c *conn) handleOffsetFetch(req *kmsg.OffsetFetchRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if req.Version < 8 {
		var topics []kmsg.OffsetFetchRequestGroupTopic
		if req.Topics != nil {
			topics = make([]kmsg.OffsetFetchRequestGroupTopic, 0, len(req.Topics))
			for _, t := range req.Topics {
				topics = append(topics, kmsg.OffsetFetchRequestGroupTopic{Topic: t.Topic, Partitions: t.Partitions})
			}
		}
		g := c.groupOffsets(req.Group, topics)
		resp.ErrorCode = g.ErrorCode
		for _, t := range g.Topics {
			rt := kmsg.NewOffsetFetchResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetFetchResponseTopicPartition()
				rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata, rp.ErrorCode = p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	for _, rg := range req.Groups {
		resp.Groups = append(resp.Groups, c.groupOffsets(rg.Group, rg.Topics))
	}
	return resp
}

// groupOffsets answers one group of an OffsetFetch; nil topics asks for
// every committed offset.
func (c *conn) groupOffsets(group string, topics []kmsg.OffsetFetchRequestGroupTopic) kmsg.OffsetFetchResponseGroup {
	out := kmsg.NewOffsetFetchResponseGroup()
	out.Group = group
	committed, err := c.backend().CommittedOffsets(group)
	if err != nil {
		out.ErrorCode = errCoordinatorLoadInProgress
		return out
	}
	type tp struct {
		topic     string
		partition int32
	}
	byTP := make(map[tp]CommittedOffset, len(committed))
	for _, o := range committed {
		byTP[tp{o.Topic, o.Partition}] = o
	}
	part := func(p int32) kmsg.OffsetFetchResponseGroupTopicPartition {
		rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch = p, -1, -1
		rp.Metadata = kmsg.StringPtr("")
		return rp
	}
	if topics == nil {
		byTopic := make(map[string]*kmsg.OffsetFetchResponseGroupTopic)
		var names []string
		for _, o := range committed {
			t := byTopic[o.Topic]
			if t == nil {
				nt := kmsg.NewOffsetFetchResponseGroupTopic()
				nt.Topic = o.Topic
				t = &nt
				byTopic[o.Topic] = t
				names = append(names, o.Topic)
			}
			rp := part(o.Partition)
			rp.Offset, rp.LeaderEpoch, rp.Metadata = o.Offset, o.LeaderEpoch, kmsg.StringPtr(o.Metadata)
			t.Partitions = append(t.Partitions, rp)
		}
		sort.Strings(names)
		for _, n := range names {
			out.Topics = append(out.Topics, *byTopic[n])
		}
		return out
	}
	for _, t := range topics {
		rt := kmsg.NewOffsetFetchResponseGroupTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := part(p)
			if o, ok := byTP[tp{t.Topic, p}]; ok {
				rp.Offset, rp.LeaderEpoch, rp.Metadata = o.Offset, o.LeaderEpoch, kmsg.StringPtr(o.Metadata)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		out.Topics = append(out.Topics, rt)
	}
	return out
}

func (c *conn) handleListGroups(req *kmsg.ListGroupsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	groups := c.acct.groups.list()
	if stored, err := c.backend().OffsetGroups(); err == nil {
		for _, g := range stored {
			if _, ok := groups[g]; !ok {
				groups[g] = [2]string{"consumer", groupEmpty.String()}
			}
		}
	}
	ids := make([]string, 0, len(groups))
	for id := range groups {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		info := groups[id]
		if len(req.StatesFilter) > 0 && !wanted(req.StatesFilter, info[1]) {
			continue
		}
		g := kmsg.NewListGroupsResponseGroup()
		g.Group, g.ProtocolType, g.GroupState = id, info[0], info[1]
		resp.Groups = append(resp.Groups, g)
	}
	return resp
}

func (c *conn) handleDescribeGroups(req *kmsg.DescribeGroupsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, id := range req.Groups {
		d := c.acct.groups.describe(id)
		if d.State == "Dead" {
			if stored, err := c.backend().CommittedOffsets(id); err == nil && len(stored) > 0 {
				d.State, d.ProtocolType = groupEmpty.String(), "consumer"
			}
		}
		resp.Groups = append(resp.Groups, d)
	}
	return resp
}
