package cloudwatchlogs

import (
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"strings"

	"github.com/sockerless-lambda/sockerless/simulator/awsapi"
)

// Log group tags: TagResource, UntagResource and ListTagsForResource by ARN,
// their deprecated by-name forms (TagLogGroup, UntagLogGroup,
// ListTagsLogGroup), and CreateLogGroup's tags.

const maxTags = 50

var (
	tagKeyRE   = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)
	tagValueRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
	arnRE      = regexp.MustCompile(`^[\w+=/:,.@-]*$`)
)

func validateTags(tags map[string]string) error {
	if len(tags) > maxTags {
		return invalid("1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to %d", maxTags)
	}
	for k, v := range tags {
		if err := validateTagKey("tags", k); err != nil {
			return err
		}
		if len(v) > 256 || !tagValueRE.MatchString(v) {
			return invalid(`1 validation error detected: Value '%s' at 'tags.%s.member.value' failed to satisfy constraint: Member must have length less than or equal to 256, Member must satisfy regular expression pattern: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`, v, k)
		}
	}
	return nil
}

func validateTagKey(field, k string) error {
	if len(k) < 1 || len(k) > 128 || !tagKeyRE.MatchString(k) {
		return invalid(`1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have length between 1 and 128, Member must satisfy regular expression pattern: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]+)$`, k, field)
	}
	return nil
}

// groupFromARN returns the log group an ARN of this account and region
// names; any other resource does not exist here.
func (s *Service) groupFromARN(arn string) (string, error) {
	if arn == "" {
		return "", invalid("1 validation error detected: Value null at 'resourceArn' failed to satisfy constraint: Member must not be null")
	}
	if len(arn) > 1011 || !arnRE.MatchString(arn) {
		return "", invalid(`1 validation error detected: Value '%s' at 'resourceArn' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=/:,.@-]*`, arn)
	}
	prefix := fmt.Sprintf("arn:aws:logs:%s:%s:log-group:", s.cfg.Region, s.cfg.AccountID)
	name, ok := strings.CutPrefix(arn, prefix)
	if !ok || name == "" {
		if !strings.HasPrefix(arn, "arn:") {
			return "", invalid("Invalid ARN: %s", arn)
		}
		return "", errNoGroup
	}
	return name, nil
}

// tag merges tags into the group's, refusing to exceed 50 in all.
func (s *Service) tag(group string, tags map[string]string) error {
	if err := validateTags(tags); err != nil {
		return err
	}
	return mapErr(s.store.updateGroup(group, func(gm *groupMeta) error {
		merged := maps.Clone(gm.Tags)
		if merged == nil {
			merged = map[string]string{}
		}
		maps.Copy(merged, tags)
		if len(merged) > maxTags {
			return &awsapi.JSON11Error{Code: "TooManyTagsException", Message: fmt.Sprintf("A resource can have no more than %d tags.", maxTags)}
		}
		gm.Tags = merged
		return nil
	}))
}

func (s *Service) untag(group string, keys []string) error {
	for _, k := range keys {
		if err := validateTagKey("tagKeys", k); err != nil {
			return err
		}
	}
	return mapErr(s.store.updateGroup(group, func(gm *groupMeta) error {
		for _, k := range keys {
			delete(gm.Tags, k)
		}
		return nil
	}))
}

type tagsOut struct {
	Tags map[string]string `json:"tags"`
}

func (s *Service) tags(group string) (any, error) {
	gm, err := s.store.group(group)
	if err != nil {
		return nil, mapErr(err)
	}
	if gm.Tags == nil {
		gm.Tags = map[string]string{}
	}
	return tagsOut{gm.Tags}, nil
}

type arnTagsReq struct {
	ResourceArn string            `json:"resourceArn"`
	Tags        map[string]string `json:"tags"`
	TagKeys     []string          `json:"tagKeys"`
}

func (s *Service) tagResource(r *http.Request) error {
	var req arnTagsReq
	if err := decode(r, &req); err != nil {
		return err
	}
	group, err := s.groupFromARN(req.ResourceArn)
	if err != nil {
		return err
	}
	if len(req.Tags) == 0 {
		return invalid("1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null")
	}
	return s.tag(group, req.Tags)
}

func (s *Service) untagResource(r *http.Request) error {
	var req arnTagsReq
	if err := decode(r, &req); err != nil {
		return err
	}
	group, err := s.groupFromARN(req.ResourceArn)
	if err != nil {
		return err
	}
	if req.TagKeys == nil {
		return invalid("1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null")
	}
	return s.untag(group, req.TagKeys)
}

func (s *Service) listTagsForResource(r *http.Request) (any, error) {
	var req arnTagsReq
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	group, err := s.groupFromARN(req.ResourceArn)
	if err != nil {
		return nil, err
	}
	return s.tags(group)
}

func (s *Service) tagLogGroup(r *http.Request) error {
	var req struct {
		LogGroupName string            `json:"logGroupName"`
		Tags         map[string]string `json:"tags"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := validateGroupName("logGroupName", req.LogGroupName); err != nil {
		return err
	}
	return s.tag(req.LogGroupName, req.Tags)
}

// untagLogGroup takes the keys to remove in "tags", as the deprecated API does.
func (s *Service) untagLogGroup(r *http.Request) error {
	var req struct {
		LogGroupName string   `json:"logGroupName"`
		Tags         []string `json:"tags"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := validateGroupName("logGroupName", req.LogGroupName); err != nil {
		return err
	}
	return s.untag(req.LogGroupName, req.Tags)
}

func (s *Service) listTagsLogGroup(r *http.Request) (any, error) {
	var req groupReq
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := validateGroupName("logGroupName", req.LogGroupName); err != nil {
		return nil, err
	}
	return s.tags(req.LogGroupName)
}
