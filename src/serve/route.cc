#include "serve/route.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <optional>

#include <nlohmann/json.hpp>

#include "oci/digest.h"

namespace sealift::serve {

namespace {

constexpr size_t kMaxNameLength = 255;

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
bool valid_component(std::string_view c) {
  if (c.empty() || !lower_alnum(c.front()) || !lower_alnum(c.back())) return false;
  for (size_t i = 0; i < c.size();) {
    if (lower_alnum(c[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    if (c[i] == '.') {
      j = i + 1;
    } else if (c[i] == '_') {
      j = i + 1;
      if (j < c.size() && c[j] == '_') ++j;
    } else if (c[i] == '-') {
      while (j < c.size() && c[j] == '-') ++j;
    } else {
      return false;
    }
    if (j >= c.size() || !lower_alnum(c[j])) return false;
    i = j;
  }
  return true;
}

Refusal unsupported(int status, std::string message) { return {status, "UNSUPPORTED", std::move(message)}; }

// Parses a decimal number without sign or spaces; nullopt when it is not one or overflows.
std::optional<uint64_t> number(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

}  // namespace

bool valid_repository_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  size_t start = 0;
  while (true) {
    size_t slash = name.find('/', start);
    std::string_view c = name.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (!valid_component(c)) return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

// [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
bool valid_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128) return false;
  auto word = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; };
  if (!word(tag.front())) return false;
  for (char c : tag)
    if (!word(c) && c != '.' && c != '-') return false;
  return true;
}

std::variant<Route, Refusal> route(std::string_view method, std::string_view path) {
  constexpr std::string_view kPrefix = "/v2";
  if (path.substr(0, kPrefix.size()) != kPrefix || (path.size() > kPrefix.size() && path[kPrefix.size()] != '/'))
    return Refusal{404, "NOT_FOUND", "not an OCI distribution API path (they start with /v2/)"};
  if (method != "GET" && method != "HEAD")
    return unsupported(405, "this registry serves a sealift bundle read-only: " + std::string(method.substr(0, 16)) +
                                " is not allowed");
  std::string_view rest = path.size() <= kPrefix.size() + 1 ? std::string_view() : path.substr(kPrefix.size() + 1);
  if (rest.empty()) return Route{Endpoint::Base, {}, {}};
  if (rest == "_catalog") return Route{Endpoint::Catalog, {}, {}};

  // <name>/<kind>/<reference>: the last two components say what is asked; the name is the rest.
  size_t last = rest.rfind('/');
  if (last == std::string_view::npos || last == 0) return unsupported(404, "no such API endpoint");
  size_t kind_start = rest.rfind('/', last - 1);
  if (kind_start == std::string_view::npos) return unsupported(404, "no such API endpoint");
  std::string_view name = rest.substr(0, kind_start);
  std::string_view kind = rest.substr(kind_start + 1, last - kind_start - 1);
  std::string_view reference = rest.substr(last + 1);

  Endpoint endpoint;
  if (kind == "tags" && reference == "list")
    endpoint = Endpoint::Tags;
  else if (kind == "manifests")
    endpoint = Endpoint::Manifest;
  else if (kind == "blobs")
    endpoint = Endpoint::Blob;
  else if (kind == "referrers")
    endpoint = Endpoint::Referrers;
  else
    return unsupported(404, "no such API endpoint");

  if (!valid_repository_name(name))
    return Refusal{400, "NAME_INVALID", "invalid repository name (lowercase path components, at most 255 characters)"};
  if (endpoint == Endpoint::Tags) return Route{endpoint, std::string(name), {}};
  bool is_digest = reference.find(':') != std::string_view::npos;
  if (endpoint == Endpoint::Manifest && !is_digest) {
    if (!valid_tag(reference)) return Refusal{400, "TAG_INVALID", "invalid tag"};
  } else if (!oci::Digest::valid(reference)) {
    return Refusal{400, "DIGEST_INVALID", "invalid digest (this registry serves sha256:<64 lowercase hex> only)"};
  }
  return Route{endpoint, std::string(name), std::string(reference)};
}

ByteRange parse_range(std::string_view header, uint64_t size) {
  constexpr std::string_view kUnit = "bytes=";
  ByteRange whole{ByteRange::Kind::Whole, 0, size};
  if (header.substr(0, kUnit.size()) != kUnit) return whole;
  std::string_view spec = header.substr(kUnit.size());
  while (!spec.empty() && (spec.front() == ' ' || spec.front() == '\t')) spec.remove_prefix(1);
  while (!spec.empty() && (spec.back() == ' ' || spec.back() == '\t')) spec.remove_suffix(1);
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos || spec.find(',') != std::string_view::npos) return whole;
  std::string_view first = spec.substr(0, dash), second = spec.substr(dash + 1);
  if (first.empty()) {
    // The last n bytes; "-0" is unsatisfiable.
    auto n = number(second);
    if (!n) return whole;
    if (*n == 0 || size == 0) return {ByteRange::Kind::Unsatisfiable, 0, 0};
    uint64_t len = std::min(*n, size);
    return {ByteRange::Kind::Partial, size - len, len};
  }
  auto start = number(first);
  if (!start) return whole;
  uint64_t end = std::numeric_limits<uint64_t>::max();
  if (!second.empty()) {
    auto e = number(second);
    if (!e || *e < *start) return whole;
    end = *e;
  }
  if (*start >= size) return {ByteRange::Kind::Unsatisfiable, 0, 0};
  end = std::min(end, size - 1);
  return {ByteRange::Kind::Partial, *start, end - *start + 1};
}

std::string error_body(std::string_view code, std::string_view message) {
  nlohmann::json j;
  j["errors"] = nlohmann::json::array({{{"code", code}, {"message", message}}});
  // The message may quote the client's own bytes: never throw on invalid UTF-8.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace sealift::serve
