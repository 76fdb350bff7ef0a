package proxyundertest

import (
	"net/http"
	"strings"
)

// Go's client keeps a response field sent as "Name : value" under the
// uncanonicalized key "Name " (go.dev/issue/34540), and Go's server then
// drops that key as an invalid field name: the field would vanish. RFC 9112
// §5.1 requires a proxy to remove the whitespace and forward the field, so
// the reference moves such values to the trimmed, canonical name.
func init() {
	RegisterFeature(Feature{Name: "field-name-whitespace", Order: 10, Install: func(r *Reference) {
		r.ResponseHooks = append(r.ResponseHooks, func(resp *http.Response) error {
			for k, vs := range resp.Header {
				name := strings.TrimRight(k, " \t")
				if name == k || name == "" {
					continue
				}
				delete(resp.Header, k)
				for _, v := range vs {
					resp.Header.Add(name, v)
				}
			}
			return nil
		})
	}})
}
