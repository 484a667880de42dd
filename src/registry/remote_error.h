// What a registry or Harbor said when it refused: the `{"errors":[{"code","message","detail"}]}`
// body of the distribution spec (and of Harbor's API), turned into words for the user; and the one
// place that says what a refusal means, whichever server sent it. Distribution and Harbor answer
// the same question differently (wire-formats §11.9 and §13.1; a real Harbor 2.15's answers in
// shared/reference/harbor-2.15-observed.md):
//
//   question                          distribution                    Harbor
//   repository unknown (tag list)     404 NAME_UNKNOWN                404 NOT_FOUND
//   manifest or blob unknown          404 MANIFEST_/BLOB_UNKNOWN      404 NOT_FOUND
//   project unknown (/v2/ requests)   -                               401 UNAUTHORIZED, empty
//                                                                     Www-Authenticate
//   project or robot exists already   -                               409 CONFLICT
//
// Every call site that decides by an error code asks one of the functions below.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "registry/http.h"

namespace sealift::registry {

struct RemoteError {
  std::string code;     // "MANIFEST_UNKNOWN", "DENIED", "CONFLICT"
  std::string message;  // the server's text
  std::string detail;   // compact JSON of "detail", empty when absent
};

// The errors in a response body; empty when the body is not that shape.
std::vector<RemoteError> parse_remote_errors(std::string_view body);

// "403 denied: requested access to the resource is denied", "404 manifest unknown",
// "502 bad gateway". Falls back to the status's reason phrase when the body says nothing usable.
std::string describe_status(long status, std::string_view body);

// "MANIFEST_UNKNOWN" -> "manifest unknown".
std::string code_words(std::string_view code);

// True when the body carries an error with this code.
bool has_error_code(std::string_view body, std::string_view code);

// Harbor's answer to a /v2/ request for a repository whose project does not exist: 401 with an
// empty Www-Authenticate (goharbor/harbor src/server/middleware/v2auth/auth.go), since no login
// can help. Distribution never sends an empty challenge.
bool project_unknown(const HttpResponse& r);

// The repository has no tags because it does not exist (yet): a tag list's 404 NAME_UNKNOWN or
// Harbor's 404 NOT_FOUND, or Harbor's missing project. A 404 without either code (a wrong path,
// a proxy's page) is no such answer.
bool repository_unknown(const HttpResponse& r);

// The manifest or blob asked for by HEAD or GET is not there: any 404 (a HEAD answer has no body
// to say which code), or its repository's project does not exist on Harbor.
bool content_unknown(const HttpResponse& r);

// A manifest PUT refused for what it refers to: MANIFEST_BLOB_UNKNOWN or BLOB_UNKNOWN, or Harbor's
// 404 NOT_FOUND (a `.sig` whose signed artifact is not in the repository).
bool references_unknown(const HttpResponse& r);

// An upload session the registry no longer knows: 404, or 400 BLOB_UPLOAD_UNKNOWN or
// BLOB_UPLOAD_INVALID (Harbor passes its registry's codes through).
bool upload_unknown(const HttpResponse& r);

// The registry received other content than described: DIGEST_INVALID or SIZE_INVALID.
bool content_mismatch(const HttpResponse& r);

// Harbor's API: the project or robot asked about does not exist (404, NOT_FOUND when there is a
// body), or already exists (409 CONFLICT).
bool api_not_found(const HttpResponse& r);
bool api_conflict(const HttpResponse& r);

}  // namespace sealift::registry
