#include "ref/reference.h"

#include <fmt/format.h>

#include "util/error.h"

namespace sealift::ref {

namespace {

constexpr std::string_view kDockerHub = "docker.io";
// Older docker clients wrote this name; docker itself folds it into docker.io.
constexpr std::string_view kLegacyDockerHub = "index.docker.io";
constexpr std::string_view kDockerHubApi = "registry-1.docker.io";
constexpr size_t kMaxRepositoryLength = 255;
constexpr size_t kMaxTagLength = 128;

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
bool is_word(char c) { return is_alnum(c) || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Why one path component breaks [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*, or empty when it does not.
std::string component_problem(std::string_view c) {
  if (c.empty()) return "empty path component";
  for (char ch : c)
    if (ch >= 'A' && ch <= 'Z') return "repository name must be lowercase";
  for (char ch : c)
    if (!is_lower_alnum(ch) && ch != '.' && ch != '_' && ch != '-')
      return fmt::format("invalid character '{}' in path component \"{}\"", ch, c);
  if (!is_lower_alnum(c.front()) || !is_lower_alnum(c.back()))
    return fmt::format("path component \"{}\" must start and end with a lowercase letter or digit", c);
  size_t i = 0;
  while (i < c.size()) {
    if (is_lower_alnum(c[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < c.size() && !is_lower_alnum(c[j])) ++j;
    std::string_view sep = c.substr(i, j - i);
    bool ok = sep == "." || sep == "_" || sep == "__" || sep.find_first_not_of('-') == std::string_view::npos;
    if (!ok)
      return fmt::format("invalid separator \"{}\" in path component \"{}\" (use '.', '_', '__' or dashes)", sep, c);
    i = j;
  }
  return {};
}

std::string repository_problem(std::string_view repo) {
  if (repo.empty()) return "empty repository name";
  if (repo.front() == '/') return "leading slash";
  if (repo.back() == '/') return "trailing slash";
  size_t start = 0;
  for (;;) {
    size_t slash = repo.find('/', start);
    std::string_view comp = repo.substr(start, slash == std::string_view::npos ? repo.size() - start : slash - start);
    if (comp.empty()) return "empty path component (\"//\")";
    if (std::string p = component_problem(comp); !p.empty()) return p;
    if (slash == std::string_view::npos) return {};
    start = slash + 1;
  }
}

// host[:port] where host is a DNS name, an IPv4 address or a bracketed IPv6 address.
std::string registry_problem(std::string_view reg) {
  std::string_view host = reg;
  std::string_view port;
  bool ipv6 = !reg.empty() && reg.front() == '[';
  if (ipv6) {
    size_t close = reg.find(']');
    if (close == std::string_view::npos) return fmt::format("registry \"{}\": unclosed '[' in IPv6 address", reg);
    std::string_view addr = reg.substr(1, close - 1);
    if (addr.empty()) return fmt::format("registry \"{}\": empty IPv6 address", reg);
    for (char c : addr)
      if (!is_hex(c) && c != ':') return fmt::format("registry \"{}\": invalid IPv6 address", reg);
    std::string_view rest = reg.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return fmt::format("registry \"{}\": unexpected text after the IPv6 address", reg);
      port = rest.substr(1);
      if (port.empty()) return fmt::format("registry \"{}\": empty port", reg);
    }
    host = {};
  } else if (size_t colon = reg.find(':'); colon != std::string_view::npos) {
    host = reg.substr(0, colon);
    port = reg.substr(colon + 1);
    if (port.empty()) return fmt::format("registry \"{}\": empty port", reg);
  }
  for (char c : port)
    if (!is_digit(c)) return fmt::format("registry \"{}\": port must be a number", reg);
  if (ipv6) return {};
  if (host.empty()) return fmt::format("registry \"{}\": empty host name", reg);
  size_t start = 0;
  for (;;) {
    size_t dot = host.find('.', start);
    std::string_view label = host.substr(start, dot == std::string_view::npos ? host.size() - start : dot - start);
    if (label.empty()) return fmt::format("registry \"{}\": empty label in host name", reg);
    for (char c : label)
      if (!is_alnum(c) && c != '-') return fmt::format("registry \"{}\": invalid character '{}' in host name", reg, c);
    if (label.front() == '-' || label.back() == '-')
      return fmt::format("registry \"{}\": host name labels must not start or end with '-'", reg);
    if (dot == std::string_view::npos) return {};
    start = dot + 1;
  }
}

// Docker's rule: the first component names a registry only if it looks like a host (a dot, a port,
// "localhost") or has uppercase letters, which no repository path may have.
bool looks_like_registry(std::string_view first) {
  if (first == "localhost") return true;
  if (first.find_first_of(".:[") != std::string_view::npos) return true;
  for (char c : first)
    if (c >= 'A' && c <= 'Z') return true;
  return false;
}

bool is_64_hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!is_digit(c) && !(c >= 'a' && c <= 'f')) return false;
  return true;
}

std::string tag_problem(std::string_view tag) {
  if (tag.empty()) return "empty tag after ':'";
  if (tag.size() > kMaxTagLength)
    return fmt::format("tag is {} characters long, the limit is {}", tag.size(), kMaxTagLength);
  if (!is_word(tag.front())) return fmt::format("tag \"{}\" must start with a letter, digit or '_'", tag);
  for (char c : tag)
    if (!is_word(c) && c != '.' && c != '-') return fmt::format("invalid character '{}' in tag \"{}\"", c, tag);
  return {};
}

}  // namespace

bool valid_tag(std::string_view tag) { return tag_problem(tag).empty(); }

bool valid_repository(std::string_view repository) { return repository_problem(repository).empty(); }

Reference Reference::parse(std::string_view text) {
  auto fail = [&](const std::string& why) -> Error {
    std::string shown(text.substr(0, 300));
    return Error(ErrorKind::Input, fmt::format("invalid image reference \"{}\": {}", shown, why));
  };
  if (text.empty()) throw fail("empty reference");
  for (char c : text)
    if (static_cast<unsigned char>(c) <= ' ' || static_cast<unsigned char>(c) >= 0x7f)
      throw fail("contains whitespace or a non-ASCII character");

  Reference r;
  std::string_view rest = text;
  if (size_t at = rest.find('@'); at != std::string_view::npos) {
    std::string_view digest = rest.substr(at + 1);
    if (digest.empty()) throw fail("empty digest after '@'");
    try {
      r.digest = oci::Digest::parse(digest);
    } catch (const Error& e) {
      throw fail(e.what());
    }
    rest = rest.substr(0, at);
  }

  size_t last_slash = rest.rfind('/');
  size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && (last_slash == std::string_view::npos || colon > last_slash)) {
    std::string_view tag = rest.substr(colon + 1);
    if (std::string p = tag_problem(tag); !p.empty()) throw fail(p);
    r.tag = std::string(tag);
    rest = rest.substr(0, colon);
  }

  if (rest.empty()) throw fail("empty repository name");

  size_t first_slash = rest.find('/');
  std::string_view remainder = rest;
  if (first_slash != std::string_view::npos && looks_like_registry(rest.substr(0, first_slash))) {
    std::string_view reg = rest.substr(0, first_slash);
    if (std::string p = registry_problem(reg); !p.empty()) throw fail(p);
    r.registry = std::string(reg == kLegacyDockerHub ? kDockerHub : reg);
    remainder = rest.substr(first_slash + 1);
  } else {
    if (is_64_hex(rest)) throw fail("a 64-character hex string is an image ID, not a repository name");
    r.registry = std::string(kDockerHub);
  }

  if (std::string p = repository_problem(remainder); !p.empty()) throw fail(p);
  r.repository = std::string(remainder);
  if (r.registry == kDockerHub && r.repository.find('/') == std::string::npos)
    r.repository = "library/" + r.repository;
  // The limit applies to the repository path after normalisation, as in distribution/reference
  // v0.6: "a"*248 fails because "library/" makes it 256 characters.
  if (r.repository.size() > kMaxRepositoryLength)
    throw fail(fmt::format("repository name \"{}...\" is {} characters long, the limit is {}",
                           r.repository.substr(0, 40), r.repository.size(), kMaxRepositoryLength));

  if (r.tag.empty() && !r.digest) r.tag = "latest";
  return r;
}

std::string Reference::name() const { return registry + "/" + repository; }

std::string Reference::str() const {
  std::string s = name();
  if (!tag.empty()) s += ":" + tag;
  if (digest) s += "@" + digest->str();
  return s;
}

std::string Reference::pinned() const {
  if (!digest)
    throw Error(ErrorKind::Internal, fmt::format("image reference {} has no digest to pin", str()));
  return name() + "@" + digest->str();
}

Reference Reference::at(const oci::Digest& d) const {
  Reference r = *this;
  r.tag.clear();
  r.digest = d;
  return r;
}

std::string Reference::api_host() const {
  return registry == kDockerHub ? std::string(kDockerHubApi) : registry;
}

std::string Reference::manifest_ref() const {
  if (!tag.empty()) return tag;
  if (digest) return digest->str();
  throw Error(ErrorKind::Internal, fmt::format("image reference {} has neither tag nor digest", name()));
}

}  // namespace sealift::ref
