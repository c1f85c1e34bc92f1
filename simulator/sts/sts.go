// Package sts simulates AWS STS: GetCallerIdentity.
package sts

import (
	"encoding/xml"
	"net/http"

	"github.com/sockerless-lambda/sockerless/simulator/awsapi"
)

// Service answers STS's query protocol.
type Service struct{ accountID string }

// New returns STS for the account.
func New(accountID string) *Service { return &Service{accountID: accountID} }

type getCallerIdentityResponse struct {
	XMLName xml.Name `xml:"GetCallerIdentityResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		Arn     string `xml:"Arn"`
		UserID  string `xml:"UserId"`
		Account string `xml:"Account"`
	} `xml:"GetCallerIdentityResult"`
	Metadata struct {
		RequestID string `xml:"RequestId"`
	} `xml:"ResponseMetadata"`
}

func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		awsapi.WriteQueryError(w, http.StatusBadRequest, "InvalidParameterValue", err.Error())
		return
	}
	switch action := r.PostForm.Get("Action"); action {
	case "GetCallerIdentity":
		var resp getCallerIdentityResponse
		resp.Xmlns = "https://sts.amazonaws.com/doc/2011-06-15/"
		resp.Result.Account = s.accountID
		resp.Result.Arn = "arn:aws:iam::" + s.accountID + ":root"
		resp.Result.UserID = s.accountID
		resp.Metadata.RequestID = awsapi.RequestID()
		awsapi.WriteQueryXML(w, resp)
	default:
		awsapi.WriteQueryError(w, http.StatusBadRequest, "InvalidAction", "Could not find operation "+action+" for version 2011-06-15")
	}
}
