package ecr

import (
	"context"
	"fmt"
	"net/http"

	"github.com/opencontainers/go-digest"

	"github.com/sockerless-lambda/sockerless/simulator/awsapi"
)

type imageID struct {
	ImageDigest string `json:"imageDigest,omitempty"`
	ImageTag    string `json:"imageTag,omitempty"`
}

type imageFailure struct {
	ImageID       imageID `json:"imageId"`
	FailureCode   string  `json:"failureCode"`
	FailureReason string  `json:"failureReason"`
}

type imagesReq struct {
	RegistryID     string    `json:"registryId"`
	RepositoryName string    `json:"repositoryName"`
	ImageIDs       []imageID `json:"imageIds"`
	MaxResults     *int      `json:"maxResults"`
	NextToken      string    `json:"nextToken"`
	Filter         *struct {
		TagStatus string `json:"tagStatus"`
	} `json:"filter"`
	AcceptedMediaTypes []string `json:"acceptedMediaTypes"`
}

// repoImages decodes a request naming a repository and lists its images.
func (s *Service) repoImages(ctx context.Context, r *http.Request) (imagesReq, []imageInfo, error) {
	var req imagesReq
	if err := decode(r, &req); err != nil {
		return req, nil, err
	}
	if err := s.checkRegistryID(req.RegistryID); err != nil {
		return req, nil, err
	}
	if !s.repositoryExists(req.RepositoryName) {
		return req, nil, s.errRepoNotFound(req.RepositoryName)
	}
	images, err := s.images(ctx, req.RepositoryName)
	return req, images, err
}

// find returns the image id names, or a failure.
func find(images []imageInfo, id imageID) (*imageInfo, *imageFailure) {
	if id.ImageDigest == "" && id.ImageTag == "" {
		return nil, &imageFailure{ImageID: id, FailureCode: "MissingDigestAndTag", FailureReason: "Invalid request parameters: both tag and digest cannot be null"}
	}
	if id.ImageDigest != "" {
		if _, err := digest.Parse(id.ImageDigest); err != nil {
			return nil, &imageFailure{ImageID: id, FailureCode: "InvalidImageDigest", FailureReason: "Invalid request parameters: image digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'"}
		}
	}
	for i := range images {
		im := &images[i]
		tagged := id.ImageTag == ""
		for _, t := range im.Tags {
			tagged = tagged || t == id.ImageTag
		}
		switch {
		case id.ImageDigest != "" && im.Digest.String() == id.ImageDigest && tagged:
			return im, nil
		case id.ImageDigest != "" && im.Digest.String() == id.ImageDigest:
			return nil, &imageFailure{ImageID: id, FailureCode: "ImageTagDoesNotMatchDigest", FailureReason: "Invalid request parameters: given tag does not map to the given digest"}
		case id.ImageDigest == "" && tagged:
			return im, nil
		}
	}
	return nil, &imageFailure{ImageID: id, FailureCode: "ImageNotFound", FailureReason: "Requested image not found"}
}

func (s *Service) listImages(ctx context.Context, r *http.Request) (any, error) {
	req, images, err := s.repoImages(ctx, r)
	if err != nil {
		return nil, err
	}
	status := "ANY"
	if req.Filter != nil && req.Filter.TagStatus != "" {
		status = req.Filter.TagStatus
	}
	var ids []imageID
	for _, im := range images {
		if len(im.Tags) == 0 && status != "TAGGED" {
			ids = append(ids, imageID{ImageDigest: im.Digest.String()})
		}
		if status != "UNTAGGED" {
			for _, t := range im.Tags {
				ids = append(ids, imageID{ImageDigest: im.Digest.String(), ImageTag: t})
			}
		}
	}
	page, next, err := paginate(ids, req.MaxResults, req.NextToken)
	if err != nil {
		return nil, err
	}
	return struct {
		ImageIDs  []imageID `json:"imageIds"`
		NextToken string    `json:"nextToken,omitempty"`
	}{append([]imageID{}, page...), next}, nil
}

type imageDetail struct {
	RegistryID             string   `json:"registryId"`
	RepositoryName         string   `json:"repositoryName"`
	ImageDigest            string   `json:"imageDigest"`
	ImageTags              []string `json:"imageTags,omitempty"`
	ImageSizeInBytes       int64    `json:"imageSizeInBytes"`
	ImagePushedAt          float64  `json:"imagePushedAt"`
	ImageManifestMediaType string   `json:"imageManifestMediaType,omitempty"`
	ArtifactMediaType      string   `json:"artifactMediaType,omitempty"`
}

func (s *Service) describeImages(ctx context.Context, r *http.Request) (any, error) {
	req, images, err := s.repoImages(ctx, r)
	if err != nil {
		return nil, err
	}
	var chosen []imageInfo
	if len(req.ImageIDs) > 0 {
		for _, id := range req.ImageIDs {
			im, fail := find(images, id)
			if fail != nil {
				return nil, &awsapi.JSON11Error{Code: "ImageNotFoundException", Message: fmt.Sprintf(
					"The image with imageId {imageDigest:'%s', imageTag:'%s'} does not exist within the repository with name '%s' in the registry with id '%s'",
					orNull(id.ImageDigest), orNull(id.ImageTag), req.RepositoryName, s.cfg.AccountID)}
			}
			chosen = append(chosen, *im)
		}
	} else {
		for _, im := range images {
			status := "ANY"
			if req.Filter != nil && req.Filter.TagStatus != "" {
				status = req.Filter.TagStatus
			}
			if (status == "TAGGED" && len(im.Tags) == 0) || (status == "UNTAGGED" && len(im.Tags) > 0) {
				continue
			}
			chosen = append(chosen, im)
		}
	}
	page, next, err := paginate(chosen, req.MaxResults, req.NextToken)
	if err != nil {
		return nil, err
	}
	out := struct {
		ImageDetails []imageDetail `json:"imageDetails"`
		NextToken    string        `json:"nextToken,omitempty"`
	}{ImageDetails: []imageDetail{}, NextToken: next}
	for _, im := range page {
		out.ImageDetails = append(out.ImageDetails, imageDetail{
			RegistryID: s.cfg.AccountID, RepositoryName: req.RepositoryName, ImageDigest: im.Digest.String(),
			ImageTags: im.Tags, ImageSizeInBytes: im.Size, ImagePushedAt: epoch(im.PushedAt),
			ImageManifestMediaType: im.MediaType, ArtifactMediaType: im.ArtifactMediaType,
		})
	}
	return out, nil
}

func orNull(s string) string {
	if s == "" {
		return "null"
	}
	return s
}

func (s *Service) batchGetImage(ctx context.Context, r *http.Request) (any, error) {
	req, images, err := s.repoImages(ctx, r)
	if err != nil {
		return nil, err
	}
	type image struct {
		RegistryID             string  `json:"registryId"`
		RepositoryName         string  `json:"repositoryName"`
		ImageID                imageID `json:"imageId"`
		ImageManifest          string  `json:"imageManifest"`
		ImageManifestMediaType string  `json:"imageManifestMediaType"`
	}
	out := struct {
		Images   []image        `json:"images"`
		Failures []imageFailure `json:"failures"`
	}{Images: []image{}, Failures: []imageFailure{}}
	for _, id := range req.ImageIDs {
		im, fail := find(images, id)
		if fail != nil {
			out.Failures = append(out.Failures, *fail)
			continue
		}
		if len(req.AcceptedMediaTypes) > 0 && !contains(req.AcceptedMediaTypes, im.MediaType) {
			out.Failures = append(out.Failures, imageFailure{ImageID: id, FailureCode: "UnsupportedImageType",
				FailureReason: "Image manifest media type is not among the accepted media types"})
			continue
		}
		out.Images = append(out.Images, image{
			RegistryID: s.cfg.AccountID, RepositoryName: req.RepositoryName,
			ImageID:       imageID{ImageDigest: im.Digest.String(), ImageTag: id.ImageTag},
			ImageManifest: string(im.Manifest), ImageManifestMediaType: im.MediaType,
		})
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// batchDeleteImage deletes by digest (the image and all its tags) or by
// tag (the tag, and the image with it when that was its last tag), as ECR.
func (s *Service) batchDeleteImage(ctx context.Context, r *http.Request) (any, error) {
	req, images, err := s.repoImages(ctx, r)
	if err != nil {
		return nil, err
	}
	out := struct {
		ImageIDs []imageID      `json:"imageIds"`
		Failures []imageFailure `json:"failures"`
	}{ImageIDs: []imageID{}, Failures: []imageFailure{}}
	for _, id := range req.ImageIDs {
		im, fail := find(images, id)
		if fail != nil {
			out.Failures = append(out.Failures, *fail)
			continue
		}
		if id.ImageDigest == "" && len(im.Tags) > 1 {
			if err := s.untag(ctx, req.RepositoryName, id.ImageTag); err != nil {
				return nil, fmt.Errorf("untag %s: %w", id.ImageTag, err)
			}
			out.ImageIDs = append(out.ImageIDs, imageID{ImageDigest: im.Digest.String(), ImageTag: id.ImageTag})
		} else {
			if err := s.deleteImage(ctx, req.RepositoryName, im.Digest, im.Tags); err != nil {
				return nil, err
			}
			if len(im.Tags) == 0 {
				out.ImageIDs = append(out.ImageIDs, imageID{ImageDigest: im.Digest.String()})
			}
			for _, t := range im.Tags {
				out.ImageIDs = append(out.ImageIDs, imageID{ImageDigest: im.Digest.String(), ImageTag: t})
			}
		}
		// Later ids see this deletion.
		if images, err = s.images(ctx, req.RepositoryName); err != nil {
			return nil, err
		}
	}
	return out, nil
}
