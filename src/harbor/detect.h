// Whether a push target is Harbor, asked of its API before anything is pushed: projects and robot
// accounts exist only there; any other OCI registry (distribution, zot, Nexus, Artifactory, Quay, a
// cloud registry) takes the push through the distribution API alone.
//
// GET /api/v2.0/systeminfo, which Harbor 2.x answers to anyone (anonymous callers get fewer
// fields, goharbor/harbor src/server/v2.0/handler/systeminfo.go):
//   - 200 with a JSON object carrying a string "harbor_version"         -> Harbor;
//   - 404 (no such API), and GET /v2/ answers like a registry (200/401) -> not Harbor;
//   - 401 or 403: asked again with the user's credentials, when there are any, and judged again;
//   - anything else (401/403 still, 5xx after retries, a 200 that is not Harbor's answer, a
//     redirect, a transport or TLS failure) -> Error: a Harbor must never be taken for a plain
//     registry because its API was briefly unwell. The hint names --registry-type.
#pragma once

#include <string>

#include "registry/credentials.h"
#include "registry/http.h"
#include "registry/retry.h"

namespace sealift::harbor {

// What --registry-type says: find out, or take the user's word for it.
enum class RegistryType { Auto, Harbor, Oci };

// "auto", "harbor", "oci" -> RegistryType; throws Error(Usage) on anything else.
RegistryType parse_registry_type(const std::string& text);

struct TargetKind {
  bool harbor = false;
  std::string harbor_version;  // as systeminfo says ("v2.15.2-080b0220"); empty when not Harbor
  std::string evidence;        // "GET /api/v2.0/systeminfo answered 404", "--registry-type oci"

  // "Harbor v2.15.2-080b0220" or "an OCI registry that is not Harbor".
  std::string describe() const;
};

// Asks `host` (as the user wrote it, scheme from http.plain_http) what it is, unless `type` says.
TargetKind detect_target(const std::string& host, const registry::HttpOptions& http,
                         const registry::Credentials& credentials, RegistryType type = RegistryType::Auto,
                         const registry::RetryPolicy& retry = {});

}  // namespace sealift::harbor
