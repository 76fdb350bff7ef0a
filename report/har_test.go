package report

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Strict HAR 1.2 shapes for validation: pointers make a missing required
// member visible, and DisallowUnknownFields makes any member that is neither
// in the spec nor declared here as a "_" extension an error.
type harvLog struct {
	Log *struct {
		Version *string `json:"version"`
		Creator *struct {
			Name    *string `json:"name"`
			Version *string `json:"version"`
		} `json:"creator"`
		Pages   json.RawMessage `json:"pages"`
		Entries *[]harvEntry    `json:"entries"`
		Comment string          `json:"comment"`
		Case    *struct {
			ID      string `json:"id"`
			Title   string `json:"title"`
			Outcome string `json:"outcome"`
			Level   string `json:"level"`
			Req     string `json:"requirement"`
			Source  string `json:"source"`
			Exp     string `json:"expected"`
			Obs     string `json:"observed"`
			Hop     string `json:"hop"`
			Reason  string `json:"reason"`
		} `json:"_case"`
	} `json:"log"`
}

type harvNV struct {
	Name  *string `json:"name"`
	Value *string `json:"value"`
}

type harvEntry struct {
	StartedDateTime *string  `json:"startedDateTime"`
	Time            *float64 `json:"time"`
	Request         *struct {
		Method      *string   `json:"method"`
		URL         *string   `json:"url"`
		HTTPVersion *string   `json:"httpVersion"`
		Cookies     *[]harvNV `json:"cookies"`
		Headers     *[]harvNV `json:"headers"`
		QueryString *[]harvNV `json:"queryString"`
		PostData    *struct {
			MimeType *string `json:"mimeType"`
			Text     *string `json:"text"`
		} `json:"postData"`
		HeadersSize *int `json:"headersSize"`
		BodySize    *int `json:"bodySize"`
	} `json:"request"`
	Response *struct {
		Status      *int      `json:"status"`
		StatusText  *string   `json:"statusText"`
		HTTPVersion *string   `json:"httpVersion"`
		Cookies     *[]harvNV `json:"cookies"`
		Headers     *[]harvNV `json:"headers"`
		Content     *struct {
			Size      *int    `json:"size"`
			MimeType  *string `json:"mimeType"`
			Text      string  `json:"text"`
			Encoding  string  `json:"encoding"`
			Truncated bool    `json:"_truncated"`
		} `json:"content"`
		RedirectURL *string `json:"redirectURL"`
		HeadersSize *int    `json:"headersSize"`
		BodySize    *int    `json:"bodySize"`
	} `json:"response"`
	Cache   *struct{} `json:"cache"`
	Timings *struct {
		Blocked *float64 `json:"blocked"`
		DNS     *float64 `json:"dns"`
		Connect *float64 `json:"connect"`
		SSL     *float64 `json:"ssl"`
		Send    *float64 `json:"send"`
		Wait    *float64 `json:"wait"`
		Receive *float64 `json:"receive"`
		Comment string   `json:"comment"`
	} `json:"timings"`
	Hop       *string `json:"_hop"`
	Error     string  `json:"_error"`
	SSEEvents []struct {
		T       *float64 `json:"t"`
		ID      string   `json:"id"`
		Event   string   `json:"event"`
		Data    *string  `json:"data"`
		Retry   string   `json:"retry"`
		Comment string   `json:"comment"`
		Sent    *float64 `json:"sent"`
		Read    *int     `json:"read"`
	} `json:"_sseEvents"`
}

// harvValidate decodes raw strictly and checks HAR 1.2 required members and
// types; it returns the entries for further checks.
func harvValidate(t *testing.T, raw []byte) []harvEntry {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var h harvLog
	if err := dec.Decode(&h); err != nil {
		t.Fatalf("HAR does not match the strict shape: %v", err)
	}
	l := h.Log
	if l == nil || l.Version == nil || *l.Version != "1.2" {
		t.Fatal("log.version is not \"1.2\"")
	}
	if l.Creator == nil || l.Creator.Name == nil || l.Creator.Version == nil || *l.Creator.Name == "" {
		t.Error("log.creator{name,version} missing")
	}
	if p := strings.TrimSpace(string(l.Pages)); !strings.HasPrefix(p, "[") {
		t.Errorf("log.pages = %q, want an array (browser importers iterate it)", p)
	}
	if l.Entries == nil {
		t.Fatal("log.entries missing")
	}
	msRE := regexp.MustCompile(`T\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$`)
	for i, e := range *l.Entries {
		must := func(ok bool, what string) {
			if !ok {
				t.Errorf("entry %d: %s", i, what)
			}
		}
		must(e.StartedDateTime != nil, "startedDateTime missing")
		if e.StartedDateTime != nil {
			_, err := time.Parse(time.RFC3339, *e.StartedDateTime)
			must(err == nil, "startedDateTime not RFC 3339: "+*e.StartedDateTime)
			must(msRE.MatchString(*e.StartedDateTime), "startedDateTime lacks ms or zone: "+*e.StartedDateTime)
		}
		must(e.Cache != nil, "cache missing")
		must(e.Hop != nil && *e.Hop != "", "_hop missing")
		r := e.Request
		must(r != nil && r.Method != nil && r.URL != nil && r.HTTPVersion != nil && r.Cookies != nil &&
			r.Headers != nil && r.QueryString != nil && r.HeadersSize != nil && r.BodySize != nil, "request member missing")
		if r != nil && r.PostData != nil {
			must(r.PostData.MimeType != nil && r.PostData.Text != nil, "postData{mimeType,text} incomplete")
		}
		s := e.Response
		must(s != nil && s.Status != nil && s.StatusText != nil && s.HTTPVersion != nil && s.Cookies != nil &&
			s.Headers != nil && s.Content != nil && s.RedirectURL != nil && s.HeadersSize != nil && s.BodySize != nil, "response member missing")
		if s != nil && s.Content != nil {
			must(s.Content.Size != nil && *s.Content.Size >= 0 && s.Content.MimeType != nil, "content{size>=0,mimeType} invalid")
		}
		tm := e.Timings
		must(tm != nil && tm.Send != nil && tm.Wait != nil && tm.Receive != nil, "timings{send,wait,receive} missing")
		if tm == nil || tm.Send == nil || tm.Wait == nil || tm.Receive == nil {
			continue
		}
		must(*tm.Send >= 0 && *tm.Wait >= 0 && *tm.Receive >= 0, "send/wait/receive negative")
		for _, opt := range []*float64{tm.Blocked, tm.DNS, tm.Connect, tm.SSL} {
			must(opt == nil || *opt >= -1, "optional timing below -1")
		}
		must(e.Time != nil && math.Abs(*e.Time-(*tm.Send+*tm.Wait+*tm.Receive)) < 1e-9, "time is not the sum of the timings")
	}
	return *l.Entries
}

func TestWriteHARFixture(t *testing.T) {
	run := presFixtureRun()
	Redact(run, nil)
	for i := range run.Cases {
		c := &run.Cases[i]
		var buf bytes.Buffer
		if err := WriteHAR(&buf, c, run.Tool); err != nil {
			t.Fatal(err)
		}
		entries := harvValidate(t, buf.Bytes())
		if len(entries) != len(c.Exchanges) {
			t.Errorf("%s: %d entries for %d exchanges", c.ID, len(entries), len(c.Exchanges))
		}
		for _, secret := range []string{presJWT, presRefresh, presAccess, presAPIKey, presCookie} {
			if strings.Contains(buf.String(), secret) {
				t.Errorf("%s: HAR contains secret %.12s…", c.ID, secret)
			}
		}
	}

	// The WWW-Authenticate case: both hops, headers in order, query parsed.
	c := &run.Cases[1]
	var buf bytes.Buffer
	WriteHAR(&buf, c, run.Tool)
	entries := harvValidate(t, buf.Bytes())
	if *entries[0].Hop != HopProxyUpstream || *entries[1].Hop != HopClientProxy {
		t.Errorf("hops = %q, %q", *entries[0].Hop, *entries[1].Hop)
	}
	var names []string
	for _, h := range *entries[1].Response.Headers {
		names = append(names, *h.Name)
	}
	if got := strings.Join(names, ","); got != "WWW-Authenticate,X-Debug,Set-Cookie,Content-Type" {
		t.Errorf("response header order = %s", got)
	}
	var qs []string
	for _, q := range *entries[1].Request.QueryString {
		qs = append(qs, *q.Name+"="+*q.Value)
	}
	if got := strings.Join(qs, "&"); got != "trace=1&trace=2&q=a b" {
		t.Errorf("queryString = %s", got)
	}
	if pd := entries[1].Request.PostData; pd == nil || *pd.MimeType != "application/json" || !strings.Contains(*pd.Text, "tools/list") {
		t.Error("postData missing or wrong")
	}
	if *entries[1].StartedDateTime != "2026-03-14T09:26:54.587+01:00" {
		t.Errorf("startedDateTime = %s", *entries[1].StartedDateTime)
	}
	if entries[0].SSEEvents != nil {
		t.Error("_sseEvents on a JSON response")
	}

	// The SSE case: arrival times of the buffered stream all equal.
	buf.Reset()
	WriteHAR(&buf, &run.Cases[3], run.Tool)
	entries = harvValidate(t, buf.Bytes())
	ev := entries[0].SSEEvents
	if len(ev) != 4 {
		t.Fatalf("_sseEvents has %d events, want 4", len(ev))
	}
	for i, e := range ev {
		if e.T == nil || *e.T != 305 || e.Data == nil || e.Sent == nil || e.Read == nil || *e.Read != 0 {
			t.Errorf("event %d = %+v, want t=305 with data, sent and read 0", i, e)
		}
	}
	if ev[3].Retry != "3000" || ev[1].ID != "2" || ev[1].Event != "message" {
		t.Errorf("event fields lost: %+v", ev)
	}
	if tm := entries[0].Timings; *tm.Wait != 305 || *tm.Receive != 5 {
		t.Errorf("SSE timings wait %v receive %v, want 305 and 5", *tm.Wait, *tm.Receive)
	}

	// The error case: the failed exchange is status 0 with _error.
	buf.Reset()
	WriteHAR(&buf, &run.Cases[5], run.Tool)
	entries = harvValidate(t, buf.Bytes())
	if *entries[1].Response.Status != 0 || !strings.Contains(entries[1].Error, "connection refused") {
		t.Errorf("failed exchange: status %d, _error %q", *entries[1].Response.Status, entries[1].Error)
	}
}

func TestWriteHAREdgeCases(t *testing.T) {
	c := &Case{ID: "EDGE-1", Outcome: Fail, Exchanges: []Exchange{
		// No start time, negative duration, no response, no error.
		{Hop: HopClientProxy, DurationMS: -5, Request: Request{Method: "GET", URL: "http://x/"}},
		{Hop: HopProxyUpstream, Started: time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC), DurationMS: math.NaN(),
			Request:  Request{Method: "POST", URL: "http://y/?a", Body: "cut", BodyTruncated: true},
			Response: &Response{Status: 200, Body: "\xff\xfe binary", BodyTruncated: true},
			SSE:      []SSEEvent{{Data: "x", SentMS: -1, ArrivedMS: -3}}},
	}}
	var buf bytes.Buffer
	if err := WriteHAR(&buf, c, Tool{}); err != nil {
		t.Fatal(err)
	}
	entries := harvValidate(t, buf.Bytes())
	if len(entries) != 2 {
		t.Fatalf("%d entries", len(entries))
	}
	if *entries[0].StartedDateTime != "2026-01-02T03:04:05.006Z" {
		t.Errorf("missing start time should borrow the case's earliest, got %s", *entries[0].StartedDateTime)
	}
	if *entries[0].Response.Status != 0 || entries[0].Error == "" {
		t.Error("missing response without error should still say why")
	}
	r := entries[1].Response
	if r.Content.Encoding != "base64" || !r.Content.Truncated || *r.BodySize != -1 || *entries[1].Request.BodySize != -1 {
		t.Errorf("binary/truncated body: %+v", r.Content)
	}
	if q := *entries[1].Request.QueryString; len(q) != 1 || *q[0].Name != "a" || *q[0].Value != "" {
		t.Errorf("query of ?a = %+v", q)
	}
	if ev := entries[1].SSEEvents; len(ev) != 1 || ev[0].Sent != nil || *ev[0].T != 0 {
		t.Errorf("unknown send time must be omitted and t clamped: %+v", ev)
	}
}

func TestHARFileName(t *testing.T) {
	for id, want := range map[string]string{
		"AUTH-HDR-001/WWWA-13": "AUTH-HDR-001_WWWA-13.har",
		"SSE-001":              "SSE-001.har",
		"../../etc/passwd":     "_.._etc_passwd.har",
		"a b:c\\d*e?":          "a_b_c_d_e_.har",
		"":                     "case.har",
		"...":                  "case.har",
		"ÄÖ/x":                 "___x.har",
	} {
		if got := HARFileName(&Case{ID: id}); got != want {
			t.Errorf("HARFileName(%q) = %q, want %q", id, got, want)
		}
	}
	if got := HARFileName(&Case{ID: strings.Repeat("x", 500)}); len(got) > 210 {
		t.Errorf("long ID gives %d-byte name", len(got))
	}
}
