package bench

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/testtools"
)

// sampleReport is one real fan-out run: two roles, several clients, latency.
func sampleReport(t *testing.T) *Report {
	t.Helper()
	return mustSucceed(t, Config{Scenario: "fanout", URL: embedded(t), Msgs: 4000, Size: 64, Subs: 2})
}

func TestTextReport(t *testing.T) {
	rep := sampleReport(t)
	var b bytes.Buffer
	if err := WriteText(&b, rep); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"fanout: 1 publisher to M subscribers",
		"publishers", "subscribers", "subscribers: end-to-end",
		commas(float64(rep.Role("subscribers").MsgsPerSec)),
		"delivered 8,000 of 8,000 expected, lost 0", "\nOK\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	rep.Errors = append(rep.Errors, "something broke")
	b.Reset()
	_ = WriteText(&b, rep)
	if !strings.Contains(b.String(), "FAILED: 1 error\n  something broke") {
		t.Errorf("failed report does not say so:\n%s", b.String())
	}
}

func TestJSONReportRoundTrips(t *testing.T) {
	rep := sampleReport(t)
	var b bytes.Buffer
	if err := WriteJSON(&b, rep); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, &back)
	if back.Scenario != "fanout" || back.Delivered != rep.Delivered || len(back.Roles) != 2 ||
		back.Role("subscribers").Latency.P99US != rep.Role("subscribers").Latency.P99US {
		t.Fatalf("JSON round trip changed the report: %+v", back)
	}
}

func TestCSVReportMatchesRoles(t *testing.T) {
	rep := sampleReport(t)
	var b bytes.Buffer
	if err := WriteCSV(&b, rep); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != strings.Join(CSVHeader, ",") {
		t.Fatalf("header %v", rows[0])
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	want := 0
	for _, rs := range rep.Roles {
		want += 1 + len(rs.Clients)
	}
	if len(rows)-1 != want {
		t.Fatalf("%d data rows, want %d", len(rows)-1, want)
	}
	perRole := map[string]int64{}
	for _, row := range rows[1:] {
		msgs, _ := strconv.ParseInt(row[col["msgs"]], 10, 64)
		if row[col["client"]] == "all" {
			if msgs != rep.Role(row[col["role"]]).Msgs {
				t.Errorf("aggregate row %v disagrees with the report", row)
			}
		} else {
			perRole[row[col["role"]]] += msgs
		}
		if row[col["ok"]] != "true" || len(row) != len(CSVHeader) {
			t.Errorf("row %v", row)
		}
	}
	for _, rs := range rep.Roles {
		if perRole[rs.Role] != rs.Msgs {
			t.Errorf("%s client rows add up to %d, want %d", rs.Role, perRole[rs.Role], rs.Msgs)
		}
	}
}

func TestHTMLReportIsSelfContained(t *testing.T) {
	rep := sampleReport(t)
	var b bytes.Buffer
	if err := WriteHTML(&b, rep); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	// The only URL allowed is the SVG namespace name, which is never fetched.
	rest := strings.ReplaceAll(page, `"http://www.w3.org/2000/svg"`, "")
	for _, bad := range []string{"http://", "https://", "<link", " src=", "@import"} {
		if strings.Contains(rest, bad) {
			t.Errorf("page refers to something outside itself: %q", bad)
		}
	}
	m := regexp.MustCompile(`const DATA = (.*);\n`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no embedded data")
	}
	var data []Report
	if err := json.Unmarshal([]byte(m[1]), &data); err != nil {
		t.Fatalf("embedded data: %v", err)
	}
	if len(data) != 1 || data[0].Delivered != rep.Delivered || len(data[0].Timeline.Series) != 2 {
		t.Fatalf("embedded data does not match the report: %+v", data)
	}
}

// TestHTMLChartsDrawInChromium loads the page in headless Chromium and
// checks that the script drew both charts.
func TestHTMLChartsDrawInChromium(t *testing.T) {
	rep := sampleReport(t)
	file := filepath.Join(t.TempDir(), "report.html")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(f, rep); err != nil {
		t.Fatal(err)
	}
	f.Close()
	dom := testtools.DumpDOM(t, "file://"+file, 5*time.Second)
	if !strings.Contains(dom, `data-charts="drawn"`) {
		t.Fatalf("the page's script did not finish:\n%.2000s", dom)
	}
	// Throughput: publishers and subscribers; latency: the subscribers.
	for id, series := range map[string]string{"throughput": "2", "latency": "1"} {
		if !regexp.MustCompile(`id="` + id + `"[^>]*data-drawn="` + series + `"`).MatchString(dom) {
			t.Errorf("chart %s not drawn with %s series", id, series)
		}
	}
	if n := strings.Count(dom, "<polyline"); n != 3 {
		t.Errorf("%d lines drawn, want 3", n)
	}
}
