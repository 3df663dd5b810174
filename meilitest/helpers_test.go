package meilitest

import (
	"encoding/json"
	"net/http"
)

func decodeResp(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}
