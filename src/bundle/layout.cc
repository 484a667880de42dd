#include "bundle/layout.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace sealift::bundle {

std::string_view kind_name(EntryKind kind) {
  switch (kind) {
    case EntryKind::Image: return "image";
    case EntryKind::Signature: return "signature";
    case EntryKind::Chart: return "chart";
    case EntryKind::Tool: return "tool";
    case EntryKind::Referrer: return "referrer";
  }
  return "image";
}

std::string blob_path(const oci::Digest& digest) { return "blobs/sha256/" + std::string(digest.hex()); }

std::optional<oci::Digest> blob_digest(std::string_view entry_name) {
  constexpr std::string_view prefix = "blobs/sha256/";
  if (entry_name.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::string text = "sha256:" + std::string(entry_name.substr(prefix.size()));
  if (!oci::Digest::valid(text)) return std::nullopt;
  return oci::Digest::parse(text);
}

std::string index_json(const std::vector<LayoutEntry>& entries) {
  nlohmann::ordered_json manifests = nlohmann::ordered_json::array();
  for (const auto& e : entries) {
    oci::Descriptor d = e.descriptor;
    d.annotations[std::string(kRefNameAnnotation)] = e.reference;
    d.annotations[std::string(kKindAnnotation)] = std::string(kind_name(e.kind));
    if (e.kind == EntryKind::Image) d.annotations[std::string(kContainerdNameAnnotation)] = e.reference;
    manifests.push_back(d.to_json());
  }
  nlohmann::ordered_json j;
  j["schemaVersion"] = 2;
  j["mediaType"] = std::string(oci::media::kOciIndex);
  j["manifests"] = manifests;
  return j.dump();
}

std::vector<LayoutEntry> parse_index_json(const std::string& bytes) {
  oci::Manifest index = oci::Manifest::parse(bytes, oci::media::kOciIndex);
  if (!index.is_index()) throw Error(ErrorKind::Input, "index.json: not an OCI image index");
  std::vector<LayoutEntry> out;
  size_t n = 0;
  for (const auto& d : index.manifests()) {
    auto where = fmt::format("index.json: manifests[{}]", n++);
    auto ann = [&](std::string_view key) -> std::string {
      auto it = d.annotations.find(std::string(key));
      if (it == d.annotations.end() || it->second.empty())
        throw Error(ErrorKind::Input, fmt::format("{}: missing annotation {}", where, key));
      return it->second;
    };
    LayoutEntry e;
    std::string kind = ann(kKindAnnotation);
    if (kind == "image") e.kind = EntryKind::Image;
    else if (kind == "signature") e.kind = EntryKind::Signature;
    else if (kind == "chart") e.kind = EntryKind::Chart;
    else if (kind == "tool") e.kind = EntryKind::Tool;
    else if (kind == "referrer") e.kind = EntryKind::Referrer;
    else throw Error(ErrorKind::Input, fmt::format("{}: unknown kind \"{}\"", where, kind));
    e.reference = ann(kRefNameAnnotation);
    e.descriptor = d;
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace sealift::bundle
