// Image references per the distribution reference grammar, normalised the way docker does:
// "postgres" -> docker.io/library/postgres:latest.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "oci/digest.h"

namespace sealift::ref {

struct Reference {
  std::string registry;    // "docker.io", "ghcr.io", "127.0.0.1:5000"
  std::string repository;  // "library/postgres"; lowercase path components
  std::string tag;         // empty when only a digest was given
  std::optional<oci::Digest> digest;

  // Parses and normalises; throws Error(Input) with the reason ("uppercase repository", ...).
  // A reference without tag or digest gets tag "latest".
  static Reference parse(std::string_view text);

  // registry/repository
  std::string name() const;
  // registry/repository[:tag][@digest]
  std::string str() const;
  // registry/repository@digest (requires digest)
  std::string pinned() const;
  // The same name with another digest and no tag.
  Reference at(const oci::Digest& d) const;
  // The host to talk to: docker.io -> registry-1.docker.io.
  std::string api_host() const;
  // Tag if set, else the digest: what goes after /manifests/ in a URL.
  std::string manifest_ref() const;

  friend bool operator==(const Reference&, const Reference&) = default;
};

// Valid tag per [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
bool valid_tag(std::string_view tag);
// Valid repository path per the distribution grammar (lowercase components, separators).
bool valid_repository(std::string_view repository);

}  // namespace sealift::ref
