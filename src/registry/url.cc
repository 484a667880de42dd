#include "registry/url.h"

#include <cctype>
#include <vector>

#include <fmt/format.h>

#include "util/encoding.h"
#include "util/error.h"

namespace sealift::registry {

namespace {

[[noreturn]] void bad_url(std::string_view text, std::string_view why) {
  throw Error(ErrorKind::Remote, fmt::format("malformed URL '{}': {}", text, why));
}

// RFC 3986 §5.2.4.
std::string remove_dot_segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  bool absolute = !path.empty() && path[0] == '/';
  if (absolute) i = 1;
  bool trailing_slash = false;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view seg = path.substr(i, j - i);
    trailing_slash = false;
    if (seg == ".") {
      trailing_slash = true;
    } else if (seg == "..") {
      if (!out.empty()) out.pop_back();
      trailing_slash = true;
    } else {
      out.push_back(seg);
    }
    i = j + 1;
  }
  std::string result = absolute ? "/" : "";
  for (size_t k = 0; k < out.size(); ++k) {
    if (k) result += '/';
    result += out[k];
  }
  if (trailing_slash && (result.empty() || result.back() != '/')) result += '/';
  return result;
}

// Splits "path?query#fragment" (the fragment is dropped: it never reaches the server).
void split_path_query(std::string_view rest, Url& u) {
  size_t hash = rest.find('#');
  if (hash != std::string_view::npos) rest = rest.substr(0, hash);
  size_t q = rest.find('?');
  if (q == std::string_view::npos) {
    u.path = std::string(rest);
    u.query.clear();
    u.has_query = false;
  } else {
    u.path = std::string(rest.substr(0, q));
    u.query = std::string(rest.substr(q + 1));
    u.has_query = true;
  }
}

bool has_control_or_space(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return true;
  return false;
}

}  // namespace

Url Url::parse(std::string_view text) {
  if (has_control_or_space(text)) bad_url(text, "contains spaces or control characters");
  size_t colon = text.find("://");
  if (colon == std::string_view::npos) bad_url(text, "no scheme");
  Url u;
  u.scheme = util::ascii_lower(text.substr(0, colon));
  if (u.scheme != "http" && u.scheme != "https") bad_url(text, "only http and https are supported");
  std::string_view rest = text.substr(colon + 3);
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  if (authority.empty()) bad_url(text, "no host");
  if (authority.find('@') != std::string_view::npos) bad_url(text, "credentials in URLs are not accepted");
  u.authority = std::string(authority);
  split_path_query(end == std::string_view::npos ? std::string_view() : rest.substr(end), u);
  // push_back rather than `= "/"`: GCC 12 at -O3 reports a false -Wrestrict inside
  // std::string::assign for the literal (GCC bug 105329).
  if (u.path.empty()) u.path.push_back('/');
  return u;
}

std::string Url::str() const {
  std::string s = scheme + "://" + authority + path;
  if (has_query) s += "?" + query;
  return s;
}

std::string Url::origin() const {
  std::string host = util::ascii_lower(authority);
  bool bracketed = !host.empty() && host[0] == '[';
  size_t colon = host.rfind(':');
  bool has_port = colon != std::string::npos && (!bracketed || host.rfind(']') < colon);
  if (!has_port) host += scheme == "https" ? ":443" : ":80";
  return scheme + "://" + host;
}

std::string Url::host() const {
  std::string h = util::ascii_lower(authority);
  if (!h.empty() && h[0] == '[') {
    size_t close = h.find(']');
    return close == std::string::npos ? h.substr(1) : h.substr(1, close - 1);
  }
  h = h.substr(0, h.rfind(':'));
  if (!h.empty() && h.back() == '.') h.pop_back();
  return h;
}

std::string resolve_location(std::string_view base_text, std::string_view location) {
  if (location.empty()) throw Error(ErrorKind::Remote, "the registry sent an empty Location header");
  if (has_control_or_space(location)) bad_url(location, "contains spaces or control characters");
  Url base = Url::parse(base_text);
  size_t scheme_end = location.find("://");
  size_t first_special = location.find_first_of("/?#");
  if (scheme_end != std::string_view::npos && (first_special == std::string_view::npos || scheme_end < first_special)) {
    Url abs = Url::parse(location);
    abs.path = remove_dot_segments(abs.path);
    return abs.str();
  }
  Url out = base;
  if (location.substr(0, 2) == "//") {
    return resolve_location(base_text, base.scheme + ":" + std::string(location));
  }
  if (location[0] == '/') {
    split_path_query(location, out);
    out.path = remove_dot_segments(out.path);
  } else if (location[0] == '?') {
    split_path_query(std::string(base.path) + std::string(location), out);
  } else if (location[0] == '#') {
    // Same document.
  } else {
    std::string dir = base.path.substr(0, base.path.rfind('/') + 1);
    split_path_query(dir + std::string(location), out);
    out.path = remove_dot_segments(out.path);
  }
  if (out.path.empty()) out.path.push_back('/');  // not `= "/"`: see Url::parse
  return out.str();
}

std::string percent_encode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string set_query_param(std::string_view url_text, std::string_view name, std::string_view value) {
  Url u = Url::parse(url_text);
  std::string encoded = percent_encode(name) + "=" + percent_encode(value);
  std::string key_wanted = percent_encode(name);
  std::vector<std::string> parts;
  bool replaced = false;
  size_t i = 0;
  while (u.has_query && i <= u.query.size()) {
    size_t j = u.query.find('&', i);
    if (j == std::string::npos) j = u.query.size();
    std::string_view part = std::string_view(u.query).substr(i, j - i);
    i = j + 1;
    if (part.empty()) continue;
    if (part.substr(0, part.find('=')) != key_wanted) {
      parts.emplace_back(part);
    } else if (!replaced) {
      parts.push_back(encoded);
      replaced = true;
    }
  }
  if (!replaced) parts.push_back(encoded);
  std::string query;
  for (const auto& part : parts) query += (query.empty() ? "" : "&") + part;
  u.query = query;
  u.has_query = true;
  return u.str();
}

bool same_origin(std::string_view a, std::string_view b) { return Url::parse(a).origin() == Url::parse(b).origin(); }

}  // namespace sealift::registry
