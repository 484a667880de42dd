// A chart as a Helm OCI artifact (wire-formats §14): config = Chart.yaml as helm's JSON, one layer =
// the chart .tgz. sealift writes the manifest once, in the bundle, and pushes those exact bytes, so
// the chart's digest and signature stay stable (helm push would make a new manifest each time).
#pragma once

#include <string>

#include "chart/metadata.h"
#include "oci/digest.h"
#include "oci/manifest.h"

namespace sealift::chart {

struct Artifact {
  std::string config;      // application/vnd.cncf.helm.config.v1+json
  oci::Descriptor config_descriptor;
  oci::Descriptor package_descriptor;  // the .tgz layer
  oci::Manifest manifest;
};

Artifact make_artifact(const Metadata& metadata, const oci::Digest& package_digest, int64_t package_size);

}  // namespace sealift::chart
