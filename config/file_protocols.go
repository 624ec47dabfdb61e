package config

import (
	"math"
	"time"
)

// The websocket and mqtt blocks of the configuration file, with
// nats-server's key names, and midge's kafka block:
//
//	websocket { port: 8080, no_tls: true, compression: true,
//	            same_origin: false, allowed_origins: ["https://app.example.com"] }
//	mqtt { port: 1883, ack_wait: "30s", max_ack_pending: 1024 }
//	kafka { port: 9092, advertise: "broker.example.com:9092",
//	        auto_create_topics: true, default_partitions: 1 }
//
// Each takes `listen: "host:port"` or host and port; websocket and mqtt
// take a tls block like the top-level one.

func websocketKey(cp *configParser, o *Options, v cval) {
	if m, ok := cp.mapValue(v); ok {
		applySection(cp, &o.WebSocket, m, websocketKeys, v.path)
	}
}

func mqttKey(cp *configParser, o *Options, v cval) {
	if m, ok := cp.mapValue(v); ok {
		applySection(cp, &o.MQTT, m, mqttKeys, v.path)
	}
}

func kafkaKey(cp *configParser, o *Options, v cval) {
	if m, ok := cp.mapValue(v); ok {
		applySection(cp, &o.Kafka, m, kafkaKeys, v.path)
	}
}

// listenKey sets host and port from `listen`; a port of -1 picks a free one.
func listenKey[T any](host func(*T) *string, port func(*T) *int) keyHandler[T] {
	return func(cp *configParser, t *T, v cval) {
		if n, ok := v.v.(int64); ok && n == -1 {
			*port(t) = -1
			return
		}
		h, p, ok := cp.hostPort(v)
		if !ok {
			return
		}
		if h != "" {
			*host(t) = h
		}
		*port(t) = p
	}
}

var websocketKeys = map[string]keyHandler[WebSocketOptions]{
	"listen": listenKey(func(w *WebSocketOptions) *string { return &w.Host },
		func(w *WebSocketOptions) *int { return &w.Port }),
	"host":        strKey(func(w *WebSocketOptions) *string { return &w.Host }),
	"net":         strKey(func(w *WebSocketOptions) *string { return &w.Host }),
	"port":        intKey(-1, 65535, func(w *WebSocketOptions, n int64) { w.Port = int(n) }),
	"no_tls":      boolKey(func(w *WebSocketOptions) *bool { return &w.NoTLS }),
	"compression": boolKey(func(w *WebSocketOptions) *bool { return &w.Compression }),
	"same_origin": boolKey(func(w *WebSocketOptions) *bool { return &w.SameOrigin }),
	"allowed_origins": func(cp *configParser, w *WebSocketOptions, v cval) {
		w.AllowedOrigins = append(w.AllowedOrigins, cp.stringList(v)...)
	},
	"handshake_timeout": durationKey(func(w *WebSocketOptions) *time.Duration { return &w.HandshakeTimeout }),
	"tls": func(cp *configParser, w *WebSocketOptions, v cval) {
		if m, ok := cp.mapValue(v); ok {
			applySection(cp, &w.TLS, m, tlsKeys, v.path)
		}
	},
}

var mqttKeys = map[string]keyHandler[MQTTOptions]{
	"listen": listenKey(func(m *MQTTOptions) *string { return &m.Host },
		func(m *MQTTOptions) *int { return &m.Port }),
	"host":            strKey(func(m *MQTTOptions) *string { return &m.Host }),
	"net":             strKey(func(m *MQTTOptions) *string { return &m.Host }),
	"port":            intKey(-1, 65535, func(m *MQTTOptions, n int64) { m.Port = int(n) }),
	"ack_wait":        durationKey(func(m *MQTTOptions) *time.Duration { return &m.AckWait }),
	"max_ack_pending": intKey(1, math.MaxUint16, func(m *MQTTOptions, n int64) { m.MaxAckPending = int(n) }),
	"tls": func(cp *configParser, m *MQTTOptions, v cval) {
		if mm, ok := cp.mapValue(v); ok {
			applySection(cp, &m.TLS, mm, tlsKeys, v.path)
		}
	},
}

var kafkaKeys = map[string]keyHandler[KafkaOptions]{
	"listen": listenKey(func(k *KafkaOptions) *string { return &k.Host },
		func(k *KafkaOptions) *int { return &k.Port }),
	"host":      strKey(func(k *KafkaOptions) *string { return &k.Host }),
	"net":       strKey(func(k *KafkaOptions) *string { return &k.Host }),
	"port":      intKey(-1, 65535, func(k *KafkaOptions, n int64) { k.Port = int(n) }),
	"advertise": strKey(func(k *KafkaOptions) *string { return &k.Advertise }),
	"auto_create_topics": func(cp *configParser, k *KafkaOptions, v cval) {
		if b, ok := cp.boolean(v); ok {
			k.NoAutoCreateTopics = !b
		}
	},
	"default_partitions": intKey(1, math.MaxInt32, func(k *KafkaOptions, n int64) { k.DefaultPartitions = int(n) }),
}

// stringList reads a string or an array of strings.
func (cp *configParser) stringList(v cval) []string {
	if s, ok := v.v.(string); ok {
		return []string{s}
	}
	list, ok := cp.array(v)
	if !ok {
		return nil
	}
	var out []string
	for i, item := range list {
		if s, ok := cp.str(elemValue(item, v.path, i)); ok {
			out = append(out, s)
		}
	}
	return out
}
