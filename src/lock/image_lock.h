// images.lock: every image of the chart pinned by digest, with where each one is selected in the
// values. The schema is documented in docs/images-lock.md; reading is strict and writing is
// deterministic (images sorted by name), so the file diffs cleanly and `lock --check` can compare.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "oci/digest.h"
#include "ref/reference.h"

namespace sealift::lock {

inline constexpr std::string_view kApiVersion = "sealift.dev/v1";
inline constexpr std::string_view kKind = "ImagesLock";

struct LockedChart {
  std::string name;
  std::string version;
  oci::Digest digest;  // of the packaged chart (.tgz)
  friend bool operator==(const LockedChart&, const LockedChart&) = default;
};

struct LockedPlatform {
  std::string os;
  std::string architecture;
  std::string variant;            // empty when the platform has none
  oci::Digest digest;             // the platform's image manifest
  std::optional<int64_t> size;    // of that manifest, in bytes
  // "linux/arm64/v8"
  std::string str() const;
  friend bool operator==(const LockedPlatform&, const LockedPlatform&) = default;
};

struct LockedImage {
  std::string name;                       // as the chart names it ("postgres")
  std::string component;                  // the part of the application it belongs to
  ref::Reference source;                  // upstream reference with its tag
  oci::Digest digest;                     // what the tag resolved to: an index, or a single manifest
  std::string media_type;                 // of that index or manifest
  std::vector<LockedPlatform> platforms;  // one per platform manifest (one for a single manifest)
  std::vector<std::string> values_paths;  // dotted paths of the image blocks selecting it

  // Whether `d` is this image's index digest or one of its platform manifests.
  bool has_digest(const oci::Digest& d) const;
  friend bool operator==(const LockedImage&, const LockedImage&) = default;
};

struct ImageLock {
  LockedChart chart;
  std::vector<LockedImage> images;  // sorted by name

  // Parses images.lock text; `where` names it in errors. Throws Error(Input) with the line and
  // the field on malformed YAML, a wrong apiVersion or kind, an unknown or missing field, a
  // malformed digest or reference, or a duplicate image name.
  static ImageLock parse(std::string_view yaml, std::string_view where = "images.lock");
  static ImageLock load(const std::filesystem::path& file);

  // The YAML form, images sorted by name, byte-identical for equal locks.
  std::string to_yaml() const;
  // Writes the file atomically.
  void save(const std::filesystem::path& file) const;

  const LockedImage* find(std::string_view name) const;
  // Sorts the images by name (to_yaml does it on its own copy).
  void sort();

  friend bool operator==(const ImageLock&, const ImageLock&) = default;
};

// What differs between the lock on disk and a freshly resolved one, one readable line each:
// chart changes, images added or removed, digests, platforms and values paths that moved.
std::vector<std::string> diff(const ImageLock& on_disk, const ImageLock& fresh);

}  // namespace sealift::lock
