package monitor

import (
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/midgemq/midge/broker"
)

// Varz is /varz: the server's configuration and cumulative figures, with
// the reference server's field names and types (durations in ns).
type Varz struct {
	ID               string            `json:"server_id"`
	Name             string            `json:"server_name"`
	Version          string            `json:"version"`
	MidgeVersion     string            `json:"midge_version"`
	Proto            int               `json:"proto"`
	GoVersion        string            `json:"go"`
	Host             string            `json:"host"`
	Port             int               `json:"port"`
	MaxConn          int               `json:"max_connections"`
	PingInterval     time.Duration     `json:"ping_interval"`
	MaxPingsOut      int               `json:"ping_max"`
	HTTPHost         string            `json:"http_host"`
	HTTPPort         int               `json:"http_port"`
	HTTPBasePath     string            `json:"http_base_path"`
	HTTPSPort        int               `json:"https_port"`
	MaxControlLine   int32             `json:"max_control_line"`
	MaxPayload       int               `json:"max_payload"`
	MaxPending       int64             `json:"max_pending"`
	Cluster          ClusterVarz       `json:"cluster"`
	Gateway          struct{}          `json:"gateway"`
	LeafNode         struct{}          `json:"leaf"`
	MQTT             ListenerVarz      `json:"mqtt"`
	Kafka            KafkaVarz         `json:"kafka"` // midge's own addition
	Websocket        ListenerVarz      `json:"websocket"`
	JetStream        JetStreamVarz     `json:"jetstream"`
	WriteDeadline    time.Duration     `json:"write_deadline"`
	Start            time.Time         `json:"start"`
	Now              time.Time         `json:"now"`
	Uptime           string            `json:"uptime"`
	Mem              int64             `json:"mem"`
	Cores            int               `json:"cores"`
	MaxProcs         int               `json:"gomaxprocs"`
	CPU              float64           `json:"cpu"`
	Connections      int               `json:"connections"`
	TotalConnections uint64            `json:"total_connections"`
	Routes           int               `json:"routes"`
	Remotes          int               `json:"remotes"`
	Leafs            int               `json:"leafnodes"`
	InMsgs           int64             `json:"in_msgs"`
	InBytes          int64             `json:"in_bytes"`
	InClientMsgs     int64             `json:"in_client_msgs"`
	InClientBytes    int64             `json:"in_client_bytes"`
	OutMsgs          int64             `json:"out_msgs"`
	OutBytes         int64             `json:"out_bytes"`
	OutClientMsgs    int64             `json:"out_client_msgs"`
	OutClientBytes   int64             `json:"out_client_bytes"`
	SlowConsumers    int64             `json:"slow_consumers"`
	StaleConnections int64             `json:"stale_connections"`
	StalledClients   int64             `json:"stalled_clients"`
	Subscriptions    uint32            `json:"subscriptions"`
	HTTPReqStats     map[string]uint64 `json:"http_req_stats"`
	ConfigLoadTime   time.Time         `json:"config_load_time"`
	ConfigDigest     string            `json:"config_digest"`
	LameDuckMode     bool              `json:"lame_duck_mode,omitempty"`

	SlowConsumersStats   *ConnKindStats `json:"slow_consumer_stats"`
	StaleConnectionStats *ConnKindStats `json:"stale_connection_stats,omitempty"`
}

// ListenerVarz is the websocket and mqtt blocks of /varz: where the
// listener is (nats-server's fields) and, midge's addition, its clients'
// figures.
type ListenerVarz struct {
	Host  string                   `json:"host,omitempty"`
	Port  int                      `json:"port,omitempty"`
	Stats *broker.ProtocolCounters `json:"midge_stats,omitempty"`
}

func listenerVarz(a *net.TCPAddr, pc broker.ProtocolCounters) ListenerVarz {
	if a == nil {
		return ListenerVarz{}
	}
	return ListenerVarz{Host: a.IP.String(), Port: a.Port, Stats: &pc}
}

// KafkaVarz is the kafka block of /varz: the listener as ListenerVarz
// describes one, and the Kafka listener's own figures.
type KafkaVarz struct {
	ListenerVarz
	Kafka *KafkaStats `json:"midge_kafka,omitempty"`
}

// ConnKindStats splits a count by connection kind; midge has clients only.
type ConnKindStats struct {
	Clients  uint64 `json:"clients"`
	Routes   uint64 `json:"routes"`
	Gateways uint64 `json:"gateways"`
	Leafs    uint64 `json:"leafs"`
}

// JetStreamVarz is /varz's jetstream section; empty without JetStream.
type JetStreamVarz struct {
	Config *JetStreamConfig `json:"config,omitempty"`
	Stats  *JetStreamStats  `json:"stats,omitempty"`
	Limits *struct{}        `json:"limits,omitempty"`
}

func (s *Server) handleVarz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.varz())
}

func (s *Server) varz() *Varz {
	o := s.opts()
	st := s.broker.Stats()
	now := time.Now().UTC()
	cpu, mem := s.cpu.sample()
	started, port := s.startInfo()
	uptime := time.Duration(0)
	if !started.IsZero() {
		uptime = now.Sub(started)
	}
	v := &Varz{
		ID:               s.broker.ID(),
		Name:             s.broker.Name(),
		Version:          broker.ProtocolVersion,
		MidgeVersion:     broker.Version,
		Proto:            1,
		GoVersion:        runtime.Version(),
		Host:             s.opts().Host,
		Port:             port,
		MaxConn:          o.MaxConnections,
		PingInterval:     o.PingInterval,
		MaxPingsOut:      o.MaxPingsOut,
		HTTPHost:         s.opts().HTTPHost,
		HTTPBasePath:     normalizeBasePath(s.opts().HTTPBasePath),
		MaxControlLine:   int32(o.MaxControlLine),
		MaxPayload:       o.MaxPayload,
		MaxPending:       o.MaxPending,
		WriteDeadline:    o.WriteDeadline,
		Start:            started.UTC(),
		Now:              now,
		Uptime:           broker.FormatUptime(uptime),
		Mem:              mem,
		Cores:            runtime.NumCPU(),
		MaxProcs:         runtime.GOMAXPROCS(0),
		CPU:              cpu,
		Connections:      st.Connections,
		TotalConnections: st.TotalConnections,
		InMsgs:           st.InMsgs,
		InBytes:          st.InBytes,
		InClientMsgs:     st.InMsgs,
		InClientBytes:    st.InBytes,
		OutMsgs:          st.OutMsgs,
		OutBytes:         st.OutBytes,
		OutClientMsgs:    st.OutMsgs,
		OutClientBytes:   st.OutBytes,
		SlowConsumers:    st.SlowConsumers,
		StaleConnections: st.StaleConnections,
		StalledClients:   s.broker.Stats().Stalls,
		Subscriptions:    uint32(st.Subscriptions),
		HTTPReqStats:     s.requestCounts(),
		ConfigLoadTime:   time.Unix(0, s.configLoaded.Load()).UTC(),
		LameDuckMode:     s.src.LameDuck(),

		SlowConsumersStats:   &ConnKindStats{Clients: uint64(st.SlowConsumers)},
		StaleConnectionStats: &ConnKindStats{Clients: uint64(st.StaleConnections)},
	}
	if a := s.Addr(); a != nil {
		v.HTTPPort = a.Port
		if v.HTTPHost == "" {
			v.HTTPHost = s.opts().Host
		}
	}
	if len(s.jetStream()) > 0 {
		cfg, stats := s.jetStreamConfig(), s.jetStreamStats()
		v.JetStream = JetStreamVarz{Config: &cfg, Stats: &stats, Limits: &struct{}{}}
	}
	if c := s.cluster(); c != nil {
		v.Cluster = ClusterVarz{Name: c.Name, Host: c.Host, Port: c.Port, URLs: c.URLs}
		v.Routes = len(c.Routes)
	}
	if _, ok := s.src.Started(); ok { // the listeners are set up by then
		ps := s.src.Protocols()
		v.Websocket = listenerVarz(s.src.WebSocketAddr(), ps.WebSocket)
		v.MQTT = listenerVarz(s.src.MQTTAddr(), ps.MQTT)
		if a := s.src.KafkaAddr(); a != nil {
			v.Kafka = KafkaVarz{ListenerVarz: listenerVarz(a, ps.Kafka), Kafka: &ps.KafkaListener}
		}
	}
	return v
}

// cpuSampler turns the process's CPU time into a percentage of one core
// over the time since the previous sample (at least a second, so that
// scrapes in quick succession see a steady figure).
type cpuSampler struct {
	mu       sync.Mutex
	lastWall time.Time
	lastCPU  time.Duration
	pct      float64
}

const cpuSampleMin = time.Second

func (c *cpuSampler) sample() (pct float64, rss int64) {
	now, used := time.Now(), processCPU()
	c.mu.Lock()
	if c.lastWall.IsZero() {
		c.lastWall, c.lastCPU = processStart, 0
	}
	if wall := now.Sub(c.lastWall); wall >= cpuSampleMin {
		c.pct = float64(int64(1000*float64(used-c.lastCPU)/float64(wall))) / 10 // one decimal
		c.lastWall, c.lastCPU = now, used
	}
	pct = c.pct
	c.mu.Unlock()
	return pct, residentMemory()
}

// processStart approximates when the process began (package init).
var processStart = time.Now()

// processCPU is the user plus system CPU time the process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// residentMemory is the resident set size from /proc on Linux and, where
// that is missing, the memory the Go runtime obtained from the OS.
func residentMemory() int64 {
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			if pages, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				return pages * int64(os.Getpagesize())
			}
		}
	}
	sample := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() == metrics.KindUint64 {
		return int64(sample[0].Value.Uint64())
	}
	return 0
}
