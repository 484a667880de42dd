// The OCI image layout inside a bundle: `oci-layout`, `index.json` naming every top-level object by
// its full reference, and `blobs/sha256/<hex>`. Each index entry carries its role (image,
// signature, chart, tool) because signatures and charts share media types with images.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "oci/digest.h"
#include "oci/manifest.h"

namespace sealift::bundle {

inline constexpr std::string_view kOciLayoutFile = "oci-layout";
inline constexpr std::string_view kOciLayoutContent = "{\"imageLayoutVersion\":\"1.0.0\"}";
inline constexpr std::string_view kIndexFile = "index.json";
inline constexpr std::string_view kRootFile = "sealift.json";
inline constexpr std::string_view kRootSignatureFile = "sealift.json.sig";

inline constexpr std::string_view kRefNameAnnotation = "org.opencontainers.image.ref.name";
inline constexpr std::string_view kContainerdNameAnnotation = "io.containerd.image.name";
inline constexpr std::string_view kKindAnnotation = "dev.sealift.kind";

// Referrer: a cosign v3 signature (Sigstore bundle artifact with a subject), named
// "<repository>@<its own digest>" since it is pushed by digest, never tagged.
enum class EntryKind { Image, Signature, Chart, Tool, Referrer };
std::string_view kind_name(EntryKind kind);

struct LayoutEntry {
  EntryKind kind = EntryKind::Image;
  std::string reference;  // full reference: "docker.io/library/postgres:16.4", "<name>:sha256-<hex>.sig"
  oci::Descriptor descriptor;
};

// "blobs/sha256/<hex>"
std::string blob_path(const oci::Digest& digest);
// The digest a "blobs/sha256/<hex>" entry name stands for, or nullopt for other names.
std::optional<oci::Digest> blob_digest(std::string_view entry_name);

// index.json bytes: compact, entries in the given order.
std::string index_json(const std::vector<LayoutEntry>& entries);
// Strict parse of a sealift index.json; throws Error(Input) naming the entry on anything missing.
std::vector<LayoutEntry> parse_index_json(const std::string& bytes);

}  // namespace sealift::bundle
