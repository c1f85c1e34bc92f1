package sts

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	stssdk "github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

func newServer(t *testing.T, account string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(New(account))
	t.Cleanup(srv.Close)
	return srv
}

func TestGetCallerIdentity(t *testing.T) {
	srv := newServer(t, "210987654321")
	c := stssdk.New(stssdk.Options{
		Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	})
	out, err := c.GetCallerIdentity(context.Background(), &stssdk.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Account) != "210987654321" || aws.ToString(out.Arn) != "arn:aws:iam::210987654321:root" || aws.ToString(out.UserId) != "210987654321" {
		t.Fatalf("identity %s %s %s", aws.ToString(out.Account), aws.ToString(out.Arn), aws.ToString(out.UserId))
	}
}

func TestUnknownActionIsAQueryError(t *testing.T) {
	srv := newServer(t, "123456789012")
	resp, err := http.PostForm(srv.URL, url.Values{"Action": {"AssumeRole"}, "Version": {"2011-06-15"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "<Code>InvalidAction</Code>") ||
		!strings.Contains(string(body), "<ErrorResponse>") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}

	// The SDK reads the same error back as an API error.
	c := stssdk.New(stssdk.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	})
	_, err = c.AssumeRole(context.Background(), &stssdk.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::123456789012:role/r"), RoleSessionName: aws.String("s")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidAction" {
		t.Fatalf("AssumeRole: %v", err)
	}
}
