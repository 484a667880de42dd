#include "tool/artifact.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace sealift::tool {

Artifact make_artifact(const std::string& name, const std::string& version, const std::string& platform,
                       const oci::Digest& binary_digest, int64_t binary_size) {
  Artifact a;
  a.config_descriptor.media_type = std::string(oci::media::kOciEmpty);
  a.config_descriptor.digest = oci::Digest::of(kEmptyConfig);
  a.config_descriptor.size = static_cast<int64_t>(kEmptyConfig.size());
  a.binary_descriptor.media_type = std::string(kBinaryMediaType);
  a.binary_descriptor.digest = binary_digest;
  a.binary_descriptor.size = binary_size;
  a.binary_descriptor.annotations[std::string(kTitleAnnotation)] = name;

  nlohmann::ordered_json annotations;
  annotations[std::string(kNameAnnotation)] = name;
  annotations[std::string(kPlatformAnnotation)] = platform;
  annotations[std::string(kVersionAnnotation)] = version;

  nlohmann::ordered_json m;
  m["schemaVersion"] = 2;
  m["mediaType"] = std::string(oci::media::kOciManifest);
  m["artifactType"] = std::string(kArtifactType);
  m["config"] = a.config_descriptor.to_json();
  m["layers"] = nlohmann::ordered_json::array({a.binary_descriptor.to_json()});
  m["annotations"] = annotations;
  a.manifest = oci::Manifest::parse(m.dump(), oci::media::kOciManifest);
  return a;
}

std::string reference(const std::string& name, const std::string& version) {
  std::string tag = version;
  std::replace(tag.begin(), tag.end(), '+', '_');
  // The OCI distribution spec's tag grammar: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
  auto tag_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'; };
  if (tag.empty() || tag.size() > 128 || tag[0] == '.' || tag[0] == '-' || !std::all_of(tag.begin(), tag.end(), tag_char))
    throw Error(ErrorKind::Input, fmt::format("{} version \"{}\" cannot be an OCI tag", name, version),
                "give a version like v3.21.4 (--helm-version)");
  return fmt::format("sealift/tools/{}:{}", name, tag);
}

}  // namespace sealift::tool
