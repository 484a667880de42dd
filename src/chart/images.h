// The images a chart declares: the `sealift.dev/images` annotation of Chart.yaml, a YAML list of
// {name, image, component, valuesPaths}, and its agreement with the image blocks of values.yaml.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "chart/metadata.h"
#include "ref/reference.h"

namespace sealift::chart {

inline constexpr const char* kImagesAnnotation = "sealift.dev/images";
// Boolean values keys that switch optional parts of the chart on (e.g. "pipeline.enabled"), as a
// comma-separated list; the air-gap lint renders each values file with them all off and all on.
inline constexpr const char* kOptionalComponentsAnnotation = "sealift.dev/optional-components";

struct ChartImage {
  std::string name;                       // short name, unique in the chart ("postgres")
  ref::Reference image;                   // the upstream reference with its tag
  std::string component;                  // the part of the application that runs it
  std::vector<std::string> values_paths;  // dotted paths of its image blocks ("postgresql.image")
};

// Whether `path` is a dotted path of values keys ("pipeline.aiService.image"): segments of
// letters, digits, '_' and '-', not starting with a digit or '-'.
bool valid_values_path(std::string_view path);

// Parses the images annotation. Throws Error(Input) when it is missing or malformed: unknown keys,
// a duplicate name, a reference without a tag, an empty or malformed values path.
std::vector<ChartImage> declared_images(const Metadata& metadata);

// The optional-components annotation, or an empty list.
std::vector<std::string> optional_components(const Metadata& metadata);

// One image block of values.yaml: {registry, repository, tag, digest}.
struct ImageBlock {
  std::string registry, repository, tag, digest;
  // registry/repository@digest when a digest is set, else registry/repository:tag (the chart's
  // image helper does the same).
  std::string reference() const;
};

// The image block at a dotted path of a values file. Throws Error(Input) when the path does not
// lead to a map with a repository.
ImageBlock image_block(const std::filesystem::path& values_file, const std::string& path);

// Problems where values.yaml does not select what the annotation declares, one readable line each
// ("postgresql.image: values.yaml selects docker.io/library/postgres:16.3, the annotation says
// ...:16.4"); empty when they agree.
std::vector<std::string> check_values(const std::filesystem::path& chart_dir, const std::vector<ChartImage>& images);

}  // namespace sealift::chart
