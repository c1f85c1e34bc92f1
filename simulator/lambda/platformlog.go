package lambda

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Lambda's own log lines. With LogFormat Text they are the START, END and
// REPORT lines; with JSON, the platform.start, platform.runtimeDone and
// platform.report records AWS writes instead.

// endStatus is how an invocation ended, as the platform reports it.
type endStatus struct {
	status    string // success, error or timeout
	errorType string // for a platform error: Runtime.ExitError, …
	platform  bool   // the platform ended it (crash, init failure, timeout): text REPORT shows Status
}

// reportMetrics are REPORT's numbers.
type reportMetrics struct {
	duration time.Duration
	cold     bool
	initDur  time.Duration
	memSize  int32
	memUsed  int
}

const jsonTimeLayout = "2006-01-02T15:04:05.000Z"

func (e *environment) jsonLogs() bool { return e.conf.LoggingConfig.LogFormat == "JSON" }

func platformRecord(typ string, record any) string {
	b, _ := json.Marshal(struct {
		Time   string `json:"time"`
		Type   string `json:"type"`
		Record any    `json:"record"`
	}{time.Now().UTC().Format(jsonTimeLayout), typ, record})
	return string(b) + "\n"
}

func (e *environment) startLine(id string) string {
	if e.jsonLogs() {
		return platformRecord("platform.start", map[string]string{"requestId": id, "version": "$LATEST"})
	}
	return fmt.Sprintf("START RequestId: %s Version: $LATEST\n", id)
}

func (e *environment) endLine(id string, st endStatus, d time.Duration) string {
	if e.jsonLogs() {
		rec := map[string]any{"requestId": id, "status": st.status, "metrics": map[string]any{"durationMs": ms(d)}}
		if st.errorType != "" {
			rec["errorType"] = st.errorType
		}
		return platformRecord("platform.runtimeDone", rec)
	}
	return fmt.Sprintf("END RequestId: %s\n", id)
}

// reportLine is Lambda's REPORT: Init Duration only on a cold start, then
// Status for an invocation the platform ended, every field followed by a
// tab. Container images are billed their init too.
func (e *environment) reportLine(id string, st endStatus, m reportMetrics) string {
	billed := int64(math.Ceil(ms(m.duration)))
	if m.cold {
		billed += int64(math.Ceil(ms(m.initDur)))
	}
	billed = max(billed, 1)
	used := max(m.memUsed, 1)
	if e.jsonLogs() {
		metrics := map[string]any{"durationMs": ms(m.duration), "billedDurationMs": billed, "memorySizeMB": m.memSize, "maxMemoryUsedMB": used}
		if m.cold {
			metrics["initDurationMs"] = ms(m.initDur)
		}
		rec := map[string]any{"requestId": id, "metrics": metrics, "status": st.status}
		if st.errorType != "" {
			rec["errorType"] = st.errorType
		}
		return platformRecord("platform.report", rec)
	}
	line := fmt.Sprintf("REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB\tMax Memory Used: %d MB\t",
		id, ms(m.duration), billed, m.memSize, used)
	if m.cold {
		line += fmt.Sprintf("Init Duration: %.2f ms\t", ms(m.initDur))
	}
	if st.platform {
		line += "Status: " + st.status + "\t"
		if st.errorType != "" {
			line += "Error Type: " + st.errorType + "\t"
		}
	}
	return line + "\n"
}

// ms is d in milliseconds, rounded to the hundredth AWS prints.
func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Millisecond)*100) / 100
}
