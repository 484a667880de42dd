// The request parsing of `sealift-install serve` (serve/route.h): the method, path and Range header
// a client sends. Input: the method, '\n', the path, '\n', the Range header, '\n', a blob size.
// What is accepted must name a valid repository (no "..", no empty component, nothing but the
// distribution grammar) and a valid reference; a range must lie inside the blob.
#include <charconv>

#include "fuzz.h"
#include "oci/digest.h"
#include "serve/route.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sealift;
  auto a = fuzz::split_line(fuzz::text(data, size));
  auto b = fuzz::split_line(a.second);
  auto c = fuzz::split_line(b.second);
  std::string_view method = a.first, path = b.first, range = c.first, size_text = c.second;

  auto routed = serve::route(method, path);
  if (auto* r = std::get_if<serve::Route>(&routed)) {
    fuzz::require(method == "GET" || method == "HEAD", "a write method was routed");
    if (r->endpoint != serve::Endpoint::Base && r->endpoint != serve::Endpoint::Catalog) {
      fuzz::require(serve::valid_repository_name(r->name), "invalid name routed");
      fuzz::require(r->name.find("..") == std::string::npos && r->name.find("//") == std::string::npos &&
                        r->name.front() != '/' && r->name.back() != '/',
                    "name escapes its path");
    }
    if (r->endpoint == serve::Endpoint::Blob || r->endpoint == serve::Endpoint::Referrers)
      fuzz::require(oci::Digest::valid(r->reference), "invalid digest routed");
    if (r->endpoint == serve::Endpoint::Manifest)
      fuzz::require(oci::Digest::valid(r->reference) || serve::valid_tag(r->reference), "invalid reference routed");
  } else {
    const auto& refusal = std::get<serve::Refusal>(routed);
    fuzz::require(refusal.status >= 400 && refusal.status < 500 && !refusal.code.empty(), "refusal without a 4xx code");
    fuzz::require(!serve::error_body(refusal.code, refusal.message).empty(), "empty error body");
  }

  uint64_t blob_size = 0;
  std::from_chars(size_text.data(), size_text.data() + size_text.size(), blob_size);
  serve::ByteRange br = serve::parse_range(range, blob_size);
  switch (br.kind) {
    case serve::ByteRange::Kind::Whole:
      fuzz::require(br.offset == 0 && br.length == blob_size, "whole is not the whole blob");
      break;
    case serve::ByteRange::Kind::Partial:
      fuzz::require(br.length > 0 && br.offset < blob_size && br.length <= blob_size - br.offset, "range outside the blob");
      break;
    case serve::ByteRange::Kind::Unsatisfiable:
      break;
  }
  return 0;
}
