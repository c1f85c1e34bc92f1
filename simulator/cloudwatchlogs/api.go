package cloudwatchlogs

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sockerless-lambda/sockerless/simulator/awsapi"
)

const (
	maxBatchEvents = 10000
	maxBatchBytes  = 1048576
	eventOverhead  = 26
	maxGetLimit    = 10000
	maxPageBytes   = 1048576
	filterBudget   = 100000 // events FilterLogEvents examines per call
)

var (
	groupNameRE  = regexp.MustCompile(`^[\.\-_/#A-Za-z0-9]+$`)
	streamNameRE = regexp.MustCompile(`^[^:*]*$`)
)

func invalid(format string, a ...any) *awsapi.JSON11Error {
	return &awsapi.JSON11Error{Code: "InvalidParameterException", Message: fmt.Sprintf(format, a...)}
}

var (
	errNoGroup     = &awsapi.JSON11Error{Code: "ResourceNotFoundException", Message: "The specified log group does not exist."}
	errNoStream    = &awsapi.JSON11Error{Code: "ResourceNotFoundException", Message: "The specified log stream does not exist."}
	errDupGroup    = &awsapi.JSON11Error{Code: "ResourceAlreadyExistsException", Message: "The specified log group already exists"}
	errDupStream   = &awsapi.JSON11Error{Code: "ResourceAlreadyExistsException", Message: "The specified log stream already exists"}
	errInvalidNext = invalid("The specified nextToken is invalid.")
)

// Handle answers one operation.
func (s *Service) Handle(w http.ResponseWriter, r *http.Request, op string) {
	var (
		out any
		err error
	)
	switch op {
	case "CreateLogGroup":
		err = s.createLogGroup(r)
	case "DeleteLogGroup":
		err = s.deleteLogGroup(r)
	case "DescribeLogGroups":
		out, err = s.describeLogGroups(r)
	case "CreateLogStream":
		err = s.createLogStream(r)
	case "DeleteLogStream":
		err = s.deleteLogStream(r)
	case "DescribeLogStreams":
		out, err = s.describeLogStreams(r)
	case "PutLogEvents":
		out, err = s.putLogEvents(r)
	case "GetLogEvents":
		out, err = s.getLogEvents(r)
	case "FilterLogEvents":
		out, err = s.filterLogEvents(r)
	case "PutRetentionPolicy":
		err = s.putRetentionPolicy(r)
	case "DeleteRetentionPolicy":
		err = s.deleteRetentionPolicy(r)
	case "TagResource":
		err = s.tagResource(r)
	case "UntagResource":
		err = s.untagResource(r)
	case "ListTagsForResource":
		out, err = s.listTagsForResource(r)
	case "TagLogGroup":
		err = s.tagLogGroup(r)
	case "UntagLogGroup":
		err = s.untagLogGroup(r)
	case "ListTagsLogGroup":
		out, err = s.listTagsLogGroup(r)
	default:
		err = &awsapi.JSON11Error{Code: "UnknownOperationException", Message: "Unknown operation " + op}
	}
	awsapi.RespondJSON11(w, "cloudwatch logs", op, "ServiceUnavailableException", out, err)
}

func decode(r *http.Request, v any) error { return awsapi.DecodeJSON11(r, v) }

// mapErr turns store errors into AWS's.
func mapErr(err error) error {
	switch {
	case errors.Is(err, errGroupNotFound):
		return errNoGroup
	case errors.Is(err, errStreamNotFound):
		return errNoStream
	case errors.Is(err, errGroupExists):
		return errDupGroup
	case errors.Is(err, errStreamExists):
		return errDupStream
	}
	return err
}

func validateGroupName(field, name string) error {
	switch {
	case name == "":
		return invalid("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", field)
	case len(name) > 512:
		return invalid("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to 512", name, field)
	case !groupNameRE.MatchString(name):
		return invalid(`1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]+`, name, field)
	}
	return nil
}

func validateStreamName(name string) error {
	switch {
	case name == "":
		return invalid("1 validation error detected: Value null at 'logStreamName' failed to satisfy constraint: Member must not be null")
	case len(name) > 512:
		return invalid("1 validation error detected: Value '%s' at 'logStreamName' failed to satisfy constraint: Member must have length less than or equal to 512", name)
	case !streamNameRE.MatchString(name):
		return invalid("1 validation error detected: Value '%s' at 'logStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]*", name)
	}
	return nil
}

// groupFrom takes logGroupName or logGroupIdentifier (a name or an ARN).
func groupFrom(name, identifier string) (string, error) {
	if name != "" && identifier != "" {
		return "", invalid("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
	}
	if identifier != "" {
		if strings.HasPrefix(identifier, "arn:") {
			_, rest, ok := strings.Cut(identifier, ":log-group:")
			if !ok {
				return "", invalid("Invalid logGroupIdentifier %s", identifier)
			}
			name = strings.TrimSuffix(rest, ":*")
		} else {
			name = identifier
		}
	}
	return name, validateGroupName("logGroupName", name)
}

func (s *Service) groupARN(name string) string {
	return fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", s.cfg.Region, s.cfg.AccountID, name)
}

func checkLimit(limit *int32, max int32) (int, error) {
	if limit == nil {
		return int(max), nil
	}
	if *limit < 1 {
		return 0, invalid("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1", *limit)
	}
	if *limit > max {
		return 0, invalid("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value less than or equal to %d", *limit, max)
	}
	return int(*limit), nil
}

type groupReq struct {
	LogGroupName  string `json:"logGroupName"`
	LogStreamName string `json:"logStreamName"`
}

func (s *Service) createLogGroup(r *http.Request) error {
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
	if err := validateTags(req.Tags); err != nil {
		return err
	}
	return mapErr(s.store.createGroup(req.LogGroupName, groupMeta{CreationTime: s.nowMillis(), Tags: req.Tags}))
}

func (s *Service) deleteLogGroup(r *http.Request) error {
	var req groupReq
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := validateGroupName("logGroupName", req.LogGroupName); err != nil {
		return err
	}
	return mapErr(s.store.deleteGroup(req.LogGroupName))
}

type logGroupOut struct {
	LogGroupName      string `json:"logGroupName"`
	CreationTime      int64  `json:"creationTime"`
	RetentionInDays   int    `json:"retentionInDays,omitempty"`
	MetricFilterCount int    `json:"metricFilterCount"`
	Arn               string `json:"arn"`
	LogGroupArn       string `json:"logGroupArn"`
	StoredBytes       int64  `json:"storedBytes"`
	LogGroupClass     string `json:"logGroupClass"`
}

func (s *Service) describeLogGroups(r *http.Request) (any, error) {
	var req struct {
		LogGroupNamePrefix string `json:"logGroupNamePrefix"`
		Limit              *int32 `json:"limit"`
		NextToken          string `json:"nextToken"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	limit, err := checkLimit(req.Limit, 50)
	if err != nil {
		return nil, err
	}
	after := ""
	if req.NextToken != "" {
		if after, _, err = parsePageToken(req.NextToken); err != nil {
			return nil, errInvalidNext
		}
	}
	groups, more, err := s.store.groups(req.LogGroupNamePrefix, after, limit)
	if err != nil {
		return nil, err
	}
	out := struct {
		LogGroups []logGroupOut `json:"logGroups"`
		NextToken string        `json:"nextToken,omitempty"`
	}{LogGroups: []logGroupOut{}}
	for _, g := range groups {
		arn := s.groupARN(g.Name)
		out.LogGroups = append(out.LogGroups, logGroupOut{
			LogGroupName: g.Name, CreationTime: g.CreationTime, RetentionInDays: g.RetentionInDays, Arn: arn + ":*", LogGroupArn: arn,
			StoredBytes: g.StoredBytes, LogGroupClass: "STANDARD",
		})
	}
	if more {
		out.NextToken = pageToken(groups[len(groups)-1].Name, 0)
	}
	return out, nil
}

func (s *Service) createLogStream(r *http.Request) error {
	var req groupReq
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := validateGroupName("logGroupName", req.LogGroupName); err != nil {
		return err
	}
	if err := validateStreamName(req.LogStreamName); err != nil {
		return err
	}
	return mapErr(s.store.createStream(req.LogGroupName, req.LogStreamName, s.nowMillis()))
}

func (s *Service) deleteLogStream(r *http.Request) error {
	var req groupReq
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := validateGroupName("logGroupName", req.LogGroupName); err != nil {
		return err
	}
	if err := validateStreamName(req.LogStreamName); err != nil {
		return err
	}
	return mapErr(s.store.deleteStream(req.LogGroupName, req.LogStreamName))
}

type logStreamOut struct {
	LogStreamName       string `json:"logStreamName"`
	CreationTime        int64  `json:"creationTime"`
	FirstEventTimestamp *int64 `json:"firstEventTimestamp,omitempty"`
	LastEventTimestamp  *int64 `json:"lastEventTimestamp,omitempty"`
	LastIngestionTime   *int64 `json:"lastIngestionTime,omitempty"`
	UploadSequenceToken string `json:"uploadSequenceToken"`
	Arn                 string `json:"arn"`
	StoredBytes         int64  `json:"storedBytes"`
}

func (s *Service) describeLogStreams(r *http.Request) (any, error) {
	var req struct {
		LogGroupName        string `json:"logGroupName"`
		LogGroupIdentifier  string `json:"logGroupIdentifier"`
		LogStreamNamePrefix string `json:"logStreamNamePrefix"`
		OrderBy             string `json:"orderBy"`
		Descending          bool   `json:"descending"`
		Limit               *int32 `json:"limit"`
		NextToken           string `json:"nextToken"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	group, err := groupFrom(req.LogGroupName, req.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	limit, err := checkLimit(req.Limit, 50)
	if err != nil {
		return nil, err
	}
	byTime := false
	switch req.OrderBy {
	case "", "LogStreamName":
	case "LastEventTime":
		if req.LogStreamNamePrefix != "" {
			return nil, invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
		}
		byTime = true
	default:
		return nil, invalid("1 validation error detected: Value '%s' at 'orderBy' failed to satisfy constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]", req.OrderBy)
	}
	streams, err := s.store.streams(group, req.LogStreamNamePrefix)
	if err != nil {
		return nil, mapErr(err)
	}
	// before reports whether a sorts before b in the requested order.
	before := func(aName string, aT int64, bName string, bT int64) bool {
		less := aName < bName
		if byTime && aT != bT {
			less = aT < bT
		}
		if req.Descending {
			return !less && (aName != bName || aT != bT)
		}
		return less
	}
	sort.Slice(streams, func(i, j int) bool {
		return before(streams[i].Name, streams[i].LastEventTimestamp, streams[j].Name, streams[j].LastEventTimestamp)
	})
	if req.NextToken != "" {
		name, t, err := parsePageToken(req.NextToken)
		if err != nil {
			return nil, errInvalidNext
		}
		i := sort.Search(len(streams), func(i int) bool {
			return before(name, t, streams[i].Name, streams[i].LastEventTimestamp)
		})
		streams = streams[i:]
	}
	out := struct {
		LogStreams []logStreamOut `json:"logStreams"`
		NextToken  string         `json:"nextToken,omitempty"`
	}{LogStreams: []logStreamOut{}}
	if len(streams) > limit {
		last := streams[limit-1]
		out.NextToken = pageToken(last.Name, last.LastEventTimestamp)
		streams = streams[:limit]
	}
	for _, st := range streams {
		o := logStreamOut{
			LogStreamName: st.Name, CreationTime: st.CreationTime, UploadSequenceToken: "1",
			Arn: s.groupARN(group) + ":log-stream:" + st.Name,
		}
		if st.HasEvents {
			o.FirstEventTimestamp, o.LastEventTimestamp, o.LastIngestionTime = &st.FirstEventTimestamp, &st.LastEventTimestamp, &st.LastIngestionTime
		}
		out.LogStreams = append(out.LogStreams, o)
	}
	return out, nil
}

type rejectedInfo struct {
	TooNewLogEventStartIndex *int `json:"tooNewLogEventStartIndex,omitempty"`
	TooOldLogEventEndIndex   *int `json:"tooOldLogEventEndIndex,omitempty"`
	ExpiredLogEventEndIndex  *int `json:"expiredLogEventEndIndex,omitempty"`
}

func (s *Service) putLogEvents(r *http.Request) (any, error) {
	var req struct {
		LogGroupName  string `json:"logGroupName"`
		LogStreamName string `json:"logStreamName"`
		LogEvents     []struct {
			Timestamp *int64  `json:"timestamp"`
			Message   *string `json:"message"`
		} `json:"logEvents"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := validateGroupName("logGroupName", req.LogGroupName); err != nil {
		return nil, err
	}
	if err := validateStreamName(req.LogStreamName); err != nil {
		return nil, err
	}
	n := len(req.LogEvents)
	if n == 0 {
		return nil, invalid("1 validation error detected: Value '[]' at 'logEvents' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	if n > maxBatchEvents {
		return nil, invalid("1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must have length less than or equal to %d", maxBatchEvents)
	}
	size := 0
	for i, e := range req.LogEvents {
		if e.Timestamp == nil {
			return nil, invalid("1 validation error detected: Value null at 'logEvents.%d.member.timestamp' failed to satisfy constraint: Member must not be null", i+1)
		}
		if e.Message == nil || *e.Message == "" {
			return nil, invalid("1 validation error detected: Value '' at 'logEvents.%d.member.message' failed to satisfy constraint: Member must have length greater than or equal to 1", i+1)
		}
		if i > 0 && *e.Timestamp < *req.LogEvents[i-1].Timestamp {
			return nil, invalid("Log events in a single PutLogEvents request must be in chronological order.")
		}
		size += len(*e.Message) + eventOverhead
	}
	if size > maxBatchBytes {
		return nil, invalid("Upload too large: %d bytes exceeds limit of %d", size, maxBatchBytes)
	}
	if *req.LogEvents[n-1].Timestamp-*req.LogEvents[0].Timestamp > (24 * time.Hour).Milliseconds() {
		return nil, invalid("The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")
	}

	// Events too far in the future or past, or older than the group's
	// retention, are rejected one by one; the batch is sorted, so they sit
	// at its ends.
	gm, err := s.store.group(req.LogGroupName)
	if err != nil {
		return nil, mapErr(err)
	}
	now := s.nowMillis()
	tooOld, expired, tooNew := 0, 0, n
	for tooOld < n && *req.LogEvents[tooOld].Timestamp < now-(14*24*time.Hour).Milliseconds() {
		tooOld++
	}
	floor := gm.floor(now)
	for expired < n && tsKey(*req.LogEvents[expired].Timestamp).less(floor) {
		expired++
	}
	first := max(tooOld, expired)
	for tooNew > first && *req.LogEvents[tooNew-1].Timestamp > now+(2*time.Hour).Milliseconds() {
		tooNew--
	}
	in := make([]inEvent, 0, tooNew-first)
	for _, e := range req.LogEvents[first:tooNew] {
		in = append(in, inEvent{Timestamp: *e.Timestamp, Message: *e.Message})
	}
	if err := s.store.appendEvents(req.LogGroupName, req.LogStreamName, in, now, false, false); err != nil {
		return nil, mapErr(err)
	}
	out := struct {
		NextSequenceToken     string        `json:"nextSequenceToken"`
		RejectedLogEventsInfo *rejectedInfo `json:"rejectedLogEventsInfo,omitempty"`
	}{NextSequenceToken: strconv.FormatInt(now, 10)}
	if first > 0 || tooNew < n {
		out.RejectedLogEventsInfo = &rejectedInfo{}
		if tooOld > 0 {
			out.RejectedLogEventsInfo.TooOldLogEventEndIndex = &tooOld
		}
		if expired > 0 {
			out.RejectedLogEventsInfo.ExpiredLogEventEndIndex = &expired
		}
		if tooNew < n {
			out.RejectedLogEventsInfo.TooNewLogEventStartIndex = &tooNew
		}
	}
	return out, nil
}

type outputEvent struct {
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
}

func (s *Service) getLogEvents(r *http.Request) (any, error) {
	var req struct {
		LogGroupName       string `json:"logGroupName"`
		LogGroupIdentifier string `json:"logGroupIdentifier"`
		LogStreamName      string `json:"logStreamName"`
		StartTime          *int64 `json:"startTime"`
		EndTime            *int64 `json:"endTime"`
		NextToken          string `json:"nextToken"`
		Limit              *int32 `json:"limit"`
		StartFromHead      bool   `json:"startFromHead"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if len(req.LogGroupName) > 512 || len(req.LogStreamName) > 512 {
		return nil, invalid("Invalid LogGroup or LogStream, both must have length less than or equal to 512.")
	}
	group, err := groupFrom(req.LogGroupName, req.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if err := validateStreamName(req.LogStreamName); err != nil {
		return nil, err
	}
	limit, err := checkLimit(req.Limit, maxGetLimit)
	if err != nil {
		return nil, err
	}

	lo, hi := evKey{}, maxKey
	if req.StartTime != nil {
		lo = tsKey(*req.StartTime)
	}
	if req.EndTime != nil {
		hi = tsKey(*req.EndTime)
	}
	forward := req.StartFromHead
	var in *token
	if req.NextToken != "" {
		t, err := parseToken(req.NextToken)
		if err != nil {
			return nil, errInvalidNext
		}
		in, forward = &t, t.forward
		if t.forward && lo.less(t.key.next()) {
			lo = t.key.next()
		}
		if !t.forward && t.key.less(hi) {
			hi = t.key
		}
	}
	events, err := s.store.readEvents(group, req.LogStreamName, lo, hi, s.nowMillis(), forward, limit, maxPageBytes)
	if err != nil {
		return nil, mapErr(err)
	}

	out := struct {
		Events            []outputEvent `json:"events"`
		NextForwardToken  string        `json:"nextForwardToken"`
		NextBackwardToken string        `json:"nextBackwardToken"`
	}{Events: make([]outputEvent, 0, len(events))}
	for _, e := range events {
		out.Events = append(out.Events, outputEvent{Timestamp: int64(e.key.TS), Message: e.message, IngestionTime: e.ingestion})
	}
	switch {
	case len(events) > 0:
		out.NextForwardToken = token{true, events[len(events)-1].key}.String()
		out.NextBackwardToken = token{false, events[0].key}.String()
	case in != nil && in.forward:
		// At the end of the stream AWS hands back the token it was given.
		out.NextForwardToken = in.String()
		out.NextBackwardToken = token{false, in.key.next()}.String()
	case in != nil:
		out.NextBackwardToken = in.String()
		out.NextForwardToken = token{true, in.key.prev()}.String()
	default:
		// Nothing yet: a forward poll from the start of the range sees
		// whatever is written next.
		out.NextForwardToken = token{true, lo.prev()}.String()
		out.NextBackwardToken = token{false, lo}.String()
	}
	return out, nil
}

type filteredOut struct {
	LogStreamName string `json:"logStreamName"`
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
	EventID       string `json:"eventId"`
}

func (s *Service) filterLogEvents(r *http.Request) (any, error) {
	var req struct {
		LogGroupName        string   `json:"logGroupName"`
		LogGroupIdentifier  string   `json:"logGroupIdentifier"`
		LogStreamNames      []string `json:"logStreamNames"`
		LogStreamNamePrefix string   `json:"logStreamNamePrefix"`
		StartTime           *int64   `json:"startTime"`
		EndTime             *int64   `json:"endTime"`
		FilterPattern       string   `json:"filterPattern"`
		NextToken           string   `json:"nextToken"`
		Limit               *int32   `json:"limit"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	group, err := groupFrom(req.LogGroupName, req.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if len(req.LogStreamNames) > 0 && req.LogStreamNamePrefix != "" {
		return nil, invalid("Cannot specify both logStreamNames and logStreamNamePrefix.")
	}
	if len(req.LogStreamNames) > 100 {
		return nil, invalid("1 validation error detected: Value at 'logStreamNames' failed to satisfy constraint: Member must have length less than or equal to 100")
	}
	if len(req.FilterPattern) > 1024 {
		return nil, invalid("1 validation error detected: Value at 'filterPattern' failed to satisfy constraint: Member must have length less than or equal to 1024")
	}
	limit, err := checkLimit(req.Limit, maxGetLimit)
	if err != nil {
		return nil, err
	}
	pat, err := parsePattern(req.FilterPattern)
	if err != nil {
		return nil, invalid("Invalid filter pattern: %v", err)
	}
	q := filterQuery{
		group: group, names: req.LogStreamNames, prefix: req.LogStreamNamePrefix, start: evKey{}, end: maxKey, now: s.nowMillis(),
		pat: pat, limit: limit, maxBytes: maxPageBytes, scanBudget: filterBudget,
	}
	if req.StartTime != nil {
		q.start = tsKey(*req.StartTime)
	}
	if req.EndTime != nil {
		q.end = tsKey(*req.EndTime)
	}
	if req.NextToken != "" {
		p, err := parseFilterPos(req.NextToken)
		if err != nil {
			return nil, errInvalidNext
		}
		q.after = &p
	}
	events, resume, err := s.store.filter(q)
	if err != nil {
		return nil, mapErr(err)
	}
	out := struct {
		Events    []filteredOut `json:"events"`
		NextToken string        `json:"nextToken,omitempty"`
	}{Events: make([]filteredOut, 0, len(events))}
	for _, e := range events {
		out.Events = append(out.Events, filteredOut{
			LogStreamName: e.stream, Timestamp: int64(e.key.TS), Message: e.message, IngestionTime: e.ingestion,
			// 56 digits like AWS's: timestamp, stream, sequence.
			EventID: fmt.Sprintf("%020d%016d%020d", e.pos.TS, e.pos.Stream, e.pos.Seq),
		})
	}
	if resume != nil {
		out.NextToken = resume.String()
	}
	return out, nil
}
