// Where each image of a bundle goes in the customer's Harbor: HARBOR/PROJECT/<source path>, the
// source host dropped by default (docker.io/library/postgres -> PROJECT/library/postgres) or kept
// (PROJECT/docker.io/library/postgres); the chart goes to PROJECT/charts/<name>. The same mapping
// gives the values that point the chart at Harbor by digest, so the chart itself is never edited.
#pragma once

#include <string>
#include <vector>

#include "bundle/root.h"
#include "lock/image_lock.h"
#include "oci/digest.h"

namespace sealift::install {

struct RelocationOptions {
  std::string registry;         // Harbor host as the cluster reaches it: "harbor.example.com"
  std::string project;          // Harbor project: "ai-saas"
  bool keep_source_host = false;
};

struct RelocatedImage {
  std::string name;                       // the lock's name: "postgres"
  std::string source;                     // "docker.io/library/postgres:16.4"
  std::string repository;                 // in the target: "ai-saas/library/postgres"
  std::string tag;                        // "16.4"
  oci::Digest digest;                     // what the bundle carries
  std::vector<std::string> values_paths;  // image blocks of the chart that select it

  // "harbor.example.com/ai-saas/library/postgres@sha256:…"
  std::string pinned(const std::string& registry) const;
};

struct RelocatedChart {
  std::string name;
  std::string repository;  // "ai-saas/charts/ai-saas-dashboard"
  std::string tag;         // the chart version, '+' written as '_' (helm's rule)
  oci::Digest digest;      // of the chart's OCI manifest
};

struct Relocation {
  std::string registry;
  std::string project;
  std::vector<RelocatedImage> images;  // in sealift.json order
  RelocatedChart chart;

  // Helm values that select every image from the target by digest: for each values path of each
  // image, {registry, repository, digest}. Deterministic YAML, for `helm install -f`.
  std::string values_yaml() const;
};

// Maps every image of `root` (and its lock) into the target. Throws Error(Usage) for an invalid
// project name and Error(Input) when a target repository name is invalid or when two different
// source repositories (or an image and the chart) would land in the same target repository.
Relocation relocate(const bundle::Root& root, const lock::ImageLock& lock, const RelocationOptions& options);

}  // namespace sealift::install
