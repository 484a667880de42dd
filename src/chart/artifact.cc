#include "chart/artifact.h"

#include <nlohmann/json.hpp>

namespace sealift::chart {

Artifact make_artifact(const Metadata& metadata, const oci::Digest& package_digest, int64_t package_size) {
  Artifact a;
  a.config = metadata.config_json();
  a.config_descriptor.media_type = std::string(oci::media::kHelmConfig);
  a.config_descriptor.digest = oci::Digest::of(a.config);
  a.config_descriptor.size = static_cast<int64_t>(a.config.size());
  a.package_descriptor.media_type = std::string(oci::media::kHelmChart);
  a.package_descriptor.digest = package_digest;
  a.package_descriptor.size = package_size;

  // Helm's own annotations, minus org.opencontainers.image.created, which would make the digest
  // depend on the build time.
  nlohmann::ordered_json annotations;
  if (!metadata.description.empty()) annotations["org.opencontainers.image.description"] = metadata.description;
  annotations["org.opencontainers.image.title"] = metadata.name;
  annotations["org.opencontainers.image.version"] = metadata.version;
  if (!metadata.home.empty()) annotations["org.opencontainers.image.url"] = metadata.home;
  if (!metadata.sources.empty()) annotations["org.opencontainers.image.source"] = metadata.sources.front();

  nlohmann::ordered_json m;
  m["schemaVersion"] = 2;
  m["mediaType"] = std::string(oci::media::kOciManifest);
  m["artifactType"] = std::string(oci::media::kHelmConfig);
  m["config"] = a.config_descriptor.to_json();
  m["layers"] = nlohmann::ordered_json::array({a.package_descriptor.to_json()});
  m["annotations"] = annotations;
  a.manifest = oci::Manifest::parse(m.dump(), oci::media::kOciManifest);
  return a;
}

}  // namespace sealift::chart
