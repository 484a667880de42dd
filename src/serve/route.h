// The read-only OCI distribution API that `sealift-install serve` answers, as pure functions of a
// request (method, path, headers): which endpoint, on which repository and reference, or which
// OCI error. No I/O happens here, so the parsing of hostile paths and Range headers is fuzzed
// (fuzz/serve_route_fuzz.cc) apart from the HTTP server.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace sealift::serve {

enum class Endpoint { Base, Catalog, Tags, Manifest, Blob, Referrers };

struct Route {
  Endpoint endpoint = Endpoint::Base;
  std::string name;       // repository: "ai-saas/library/postgres"
  std::string reference;  // a tag or digest (Manifest), a digest (Blob, Referrers)
};

// An answer in the OCI error form: {"errors":[{"code":…,"message":…}]}.
struct Refusal {
  int status = 404;
  std::string code;  // NAME_INVALID, DIGEST_INVALID, UNSUPPORTED, ...
  std::string message;
};

// `path` as the server received it, percent-decoded, without the query. Only GET and HEAD are
// answered: every other method on /v2/ is 405 UNSUPPORTED (the bundle is served read-only).
// Repository names follow the distribution grammar (lowercase path components separated by
// '.', '_', '__' or '-', at most 255 characters), so "..", "%2e%2e" (decoded) and empty
// components are NAME_INVALID; digests must be "sha256:<64 lowercase hex>".
std::variant<Route, Refusal> route(std::string_view method, std::string_view path);

bool valid_repository_name(std::string_view name);
bool valid_tag(std::string_view tag);

// One byte range of a blob of `size` bytes, per RFC 9110 §14. A single range ("bytes=a-b",
// "bytes=a-", "bytes=-n") is honoured; a header that is malformed, names another unit or
// several ranges is ignored (the whole blob is sent, as §14.2 allows); a valid range that starts
// at or past the end is unsatisfiable (416 with "Content-Range: bytes */size").
struct ByteRange {
  enum class Kind { Whole, Partial, Unsatisfiable } kind = Kind::Whole;
  uint64_t offset = 0;
  uint64_t length = 0;
};
ByteRange parse_range(std::string_view header, uint64_t size);

// The body of an OCI error answer.
std::string error_body(std::string_view code, std::string_view message);

}  // namespace sealift::serve
