package meilitest

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// apiError is an error in Meilisearch's wire shape. Handlers return it and
// writeError serialises it; tasks store it in their "error" field.
type apiError struct {
	Message string `json:"message"`
	Code    string `json:"code"`
	Type    string `json:"type"`
	Link    string `json:"link"`
	status  int
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// errorSpec is the HTTP status and error type Meilisearch uses for a code.
type errorSpec struct {
	status int
	typ    string
}

// errorSpecs lists the codes meilitest emits. Unknown codes default to
// 400 invalid_request, which is what Meilisearch does for most of its
// invalid_* family.
var errorSpecs = map[string]errorSpec{
	"index_not_found":                              {404, "invalid_request"},
	"index_already_exists":                         {409, "invalid_request"},
	"index_primary_key_already_exists":             {400, "invalid_request"},
	"index_primary_key_no_candidate_found":         {400, "invalid_request"},
	"index_primary_key_multiple_candidates_found":  {400, "invalid_request"},
	"invalid_index_uid":                            {400, "invalid_request"},
	"invalid_index_primary_key":                    {400, "invalid_request"},
	"document_not_found":                           {404, "invalid_request"},
	"invalid_document_id":                          {400, "invalid_request"},
	"missing_document_id":                          {400, "invalid_request"},
	"invalid_document_fields":                      {400, "invalid_request"},
	"invalid_document_filter":                      {400, "invalid_request"},
	"missing_document_filter":                      {400, "invalid_request"},
	"invalid_document_offset":                      {400, "invalid_request"},
	"invalid_document_limit":                       {400, "invalid_request"},
	"invalid_search_filter":                        {400, "invalid_request"},
	"invalid_search_sort":                          {400, "invalid_request"},
	"invalid_search_facets":                        {400, "invalid_request"},
	"invalid_search_distinct":                      {400, "invalid_request"},
	"invalid_search_offset":                        {400, "invalid_request"},
	"invalid_search_limit":                         {400, "invalid_request"},
	"invalid_search_page":                          {400, "invalid_request"},
	"invalid_search_hits_per_page":                 {400, "invalid_request"},
	"invalid_search_matching_strategy":             {400, "invalid_request"},
	"invalid_search_attributes_to_search_on":       {400, "invalid_request"},
	"invalid_search_ranking_score_threshold":       {400, "invalid_request"},
	"invalid_facet_search_facet_name":              {400, "invalid_request"},
	"missing_facet_search_facet_name":              {400, "invalid_request"},
	"invalid_settings_ranking_rules":               {400, "invalid_request"},
	"invalid_settings_filterable_attributes":       {400, "invalid_request"},
	"invalid_settings_typo_tolerance":              {400, "invalid_request"},
	"invalid_settings_faceting":                    {400, "invalid_request"},
	"invalid_settings_pagination":                  {400, "invalid_request"},
	"invalid_task_uids":                            {400, "invalid_request"},
	"invalid_task_statuses":                        {400, "invalid_request"},
	"invalid_task_types":                           {400, "invalid_request"},
	"missing_task_filters":                         {400, "invalid_request"},
	"task_not_found":                               {404, "invalid_request"},
	"api_key_not_found":                            {404, "invalid_request"},
	"api_key_already_exists":                       {409, "invalid_request"},
	"invalid_api_key_uid":                          {400, "invalid_request"},
	"invalid_api_key_actions":                      {400, "invalid_request"},
	"invalid_api_key_indexes":                      {400, "invalid_request"},
	"invalid_api_key_expires_at":                   {400, "invalid_request"},
	"immutable_api_key_uid":                        {400, "invalid_request"},
	"immutable_api_key_actions":                    {400, "invalid_request"},
	"immutable_api_key_indexes":                    {400, "invalid_request"},
	"immutable_api_key_expires_at":                 {400, "invalid_request"},
	"immutable_api_key_key":                        {400, "invalid_request"},
	"immutable_api_key_created_at":                 {400, "invalid_request"},
	"immutable_api_key_updated_at":                 {400, "invalid_request"},
	"missing_api_key_actions":                      {400, "invalid_request"},
	"missing_api_key_indexes":                      {400, "invalid_request"},
	"missing_api_key_expires_at":                   {400, "invalid_request"},
	"missing_authorization_header":                 {401, "auth"},
	"invalid_api_key":                              {403, "auth"},
	"missing_master_key":                           {401, "auth"},
	"malformed_payload":                            {400, "invalid_request"},
	"bad_request":                                  {400, "invalid_request"},
	"missing_payload":                              {400, "invalid_request"},
	"payload_too_large":                            {413, "invalid_request"},
	"invalid_content_type":                         {415, "invalid_request"},
	"missing_content_type":                         {415, "invalid_request"},
	"not_found":                                    {404, "invalid_request"},
	"internal":                                     {500, "internal"},
	"io_error":                                     {500, "system"},
	"no_space_left_on_device":                      {500, "system"},
	"unretrievable_document":                       {500, "internal"},
	"index_creation_failed":                        {500, "internal"},
	"database_size_limit_reached":                  {500, "internal"},
	"feature_not_enabled":                          {400, "invalid_request"},
	"task_file_not_found":                          {404, "invalid_request"},
	"batch_not_found":                              {404, "invalid_request"},
	"render_document_not_found":                    {404, "invalid_request"},
	"template_rendering_error":                     {400, "invalid_request"},
	"template_parsing_error":                       {400, "invalid_request"},
	"webhook_not_found":                            {404, "invalid_request"},
	"chat_not_found":                               {404, "invalid_request"},
	"chat_workspace_not_found":                     {404, "invalid_request"},
	"dynamic_search_rule_not_found":                {404, "invalid_request"},
	"remote_could_not_send_request":                {502, "system"},
	"remote_bad_response":                          {502, "system"},
	"remote_invalid_api_key":                       {403, "auth"},
	"remote_remote_error":                          {502, "system"},
	"remote_timeout":                               {502, "system"},
	"requires_enterprise_edition":                  {451, "invalid_request"},
	"unimplemented_non_streaming_chat_completions": {501, "invalid_request"},
	"unimplemented_multi_choice_chat_completions":  {501, "invalid_request"},
	"unimplemented_external_function_calling":      {501, "invalid_request"},
}

// newError builds a Meilisearch-shaped error for code, with the status and
// type Meilisearch uses for it.
func newError(code, format string, args ...any) *apiError {
	spec, ok := errorSpecs[code]
	if !ok {
		spec = errorSpec{400, "invalid_request"}
	}
	return &apiError{
		Message: fmt.Sprintf(format, args...),
		Code:    code,
		Type:    spec.typ,
		Link:    "https://docs.meilisearch.com/errors#" + code,
		status:  spec.status,
	}
}

// withStatus returns a copy of e that is served with another HTTP status;
// used by fault injection, where the caller picks the status.
func (e *apiError) withStatus(status int) *apiError {
	c := *e
	c.status = status
	return &c
}

// writeJSON writes v with Meilisearch's content type.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError writes err; anything that is not an *apiError becomes an
// internal error so the client still gets Meilisearch's shape.
func writeError(w http.ResponseWriter, err error) {
	e, ok := err.(*apiError)
	if !ok {
		e = newError("internal", "%s", err.Error())
	}
	writeJSON(w, e.status, e)
}
