// Package metrics holds the service's Prometheus registry: HTTP metrics from
// the server, and the Temporal SDK's metrics through a client.MetricsHandler
// that feeds the same registry.
package metrics

import (
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.temporal.io/sdk/client"
)

// Registry is a Prometheus registry with Go and process collectors and the
// service's own metrics.
type Registry struct {
	*prometheus.Registry
	HTTPRequests *prometheus.CounterVec
	HTTPDuration *prometheus.HistogramVec
	temporal     *temporalCollector
}

// New returns a registry with the standard collectors registered.
func New() *Registry {
	r := &Registry{Registry: prometheus.NewRegistry(), temporal: &temporalCollector{series: map[string]*series{}}}
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r.HTTPRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dsar_http_requests_total", Help: "HTTP requests by route, method and status.",
	}, []string{"route", "method", "status"})
	r.HTTPDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "dsar_http_request_duration_seconds", Help: "HTTP request latency by route and method.",
		Buckets: prometheus.DefBuckets,
	}, []string{"route", "method"})
	r.MustRegister(r.HTTPRequests, r.HTTPDuration, r.temporal)
	return r
}

// Method is an HTTP method as a label value: the standard methods are
// themselves, anything else is "other". A client chooses the method token
// freely, so using it as given would let anyone grow the series without
// limit.
func Method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// Temporal returns a client.MetricsHandler that records the SDK's metrics
// (prefixed temporal_) in this registry.
func (r *Registry) Temporal() client.MetricsHandler {
	return &temporalHandler{c: r.temporal}
}

var timerBuckets = []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

type kind int

const (
	kindCounter kind = iota
	kindGauge
	kindTimer
)

type series struct {
	mu      sync.Mutex
	desc    *prometheus.Desc
	kind    kind
	values  []string
	value   float64
	count   uint64
	sum     float64
	buckets []uint64
}

// temporalCollector keeps every series the SDK creates and hands them to
// Prometheus as constant metrics at scrape time. The SDK names metrics with
// varying tag sets, which fixed-label vectors cannot hold.
type temporalCollector struct {
	mu     sync.Mutex
	series map[string]*series
}

func (c *temporalCollector) Describe(chan<- *prometheus.Desc) {} // unchecked collector

func (c *temporalCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	all := slices.Collect(maps.Values(c.series))
	c.mu.Unlock()
	for _, s := range all {
		s.mu.Lock()
		switch s.kind {
		case kindCounter:
			ch <- prometheus.MustNewConstMetric(s.desc, prometheus.CounterValue, s.value, s.values...)
		case kindGauge:
			ch <- prometheus.MustNewConstMetric(s.desc, prometheus.GaugeValue, s.value, s.values...)
		case kindTimer:
			b := map[float64]uint64{}
			var cum uint64
			for i, ub := range timerBuckets {
				cum += s.buckets[i]
				b[ub] = cum
			}
			ch <- prometheus.MustNewConstHistogram(s.desc, s.count, s.sum, b, s.values...)
		}
		s.mu.Unlock()
	}
}

func (c *temporalCollector) get(name string, k kind, tags map[string]string) *series {
	name = "temporal_" + strings.TrimPrefix(name, "temporal_")
	if k == kindTimer {
		name += "_seconds"
	}
	keys := slices.Sorted(maps.Keys(tags))
	var id strings.Builder
	id.WriteString(name)
	values := make([]string, len(keys))
	for i, key := range keys {
		values[i] = tags[key]
		id.WriteString("\xff" + key + "=" + tags[key])
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.series[id.String()]; ok {
		return s
	}
	labels := make([]string, len(keys))
	for i, key := range keys {
		labels[i] = sanitize(key)
	}
	s := &series{desc: prometheus.NewDesc(sanitize(name), "Temporal SDK metric "+name+".", labels, nil), kind: k, values: values}
	if k == kindTimer {
		s.buckets = make([]uint64, len(timerBuckets))
	}
	c.series[id.String()] = s
	return s
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

type temporalHandler struct {
	c    *temporalCollector
	tags map[string]string
}

func (h *temporalHandler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := maps.Clone(h.tags)
	if merged == nil {
		merged = map[string]string{}
	}
	maps.Copy(merged, tags)
	return &temporalHandler{c: h.c, tags: merged}
}

func (h *temporalHandler) Counter(name string) client.MetricsCounter {
	s := h.c.get(name, kindCounter, h.tags)
	return counterFunc(func(d int64) { s.mu.Lock(); s.value += float64(d); s.mu.Unlock() })
}

func (h *temporalHandler) Gauge(name string) client.MetricsGauge {
	s := h.c.get(name, kindGauge, h.tags)
	return gaugeFunc(func(v float64) { s.mu.Lock(); s.value = v; s.mu.Unlock() })
}

func (h *temporalHandler) Timer(name string) client.MetricsTimer {
	s := h.c.get(name, kindTimer, h.tags)
	return timerFunc(func(d time.Duration) {
		sec := d.Seconds()
		i := sort.SearchFloat64s(timerBuckets, sec)
		s.mu.Lock()
		s.count++
		s.sum += sec
		if i < len(s.buckets) {
			s.buckets[i]++
		}
		s.mu.Unlock()
	})
}

type counterFunc func(int64)

func (f counterFunc) Inc(d int64) { f(d) }

type gaugeFunc func(float64)

func (f gaugeFunc) Update(v float64) { f(v) }

type timerFunc func(time.Duration)

func (f timerFunc) Record(d time.Duration) { f(d) }
