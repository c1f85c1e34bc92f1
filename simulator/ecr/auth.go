package ecr

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"
)

// The registry accepts HTTP Basic "AWS:<password>", the password being
// what GetAuthorizationToken hands out, as ECR's registry does.

func (s *Service) password() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.Password
}

func (s *Service) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	return ok && user == "AWS" && subtle.ConstantTimeCompare([]byte(pass), []byte(s.password())) == 1
}

func (s *Service) getAuthorizationToken(r *http.Request) (any, error) {
	var req struct {
		RegistryIDs []string `json:"registryIds"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	for _, id := range req.RegistryIDs {
		if err := s.checkRegistryID(id); err != nil {
			return nil, err
		}
	}
	type authData struct {
		AuthorizationToken string  `json:"authorizationToken"`
		ExpiresAt          float64 `json:"expiresAt"`
		ProxyEndpoint      string  `json:"proxyEndpoint"`
	}
	return map[string][]authData{"authorizationData": {{
		AuthorizationToken: base64.StdEncoding.EncodeToString([]byte("AWS:" + s.password())),
		ExpiresAt:          epoch(time.Now().Add(12 * time.Hour)),
		ProxyEndpoint:      "http://" + s.cfg.RegistryHost,
	}}}, nil
}

// EngineAuth is the X-Registry-Auth header value (base64url JSON) with
// which the Docker engine pulls from this registry.
func (s *Service) EngineAuth() string {
	raw, _ := json.Marshal(map[string]string{
		"username": "AWS", "password": s.password(), "serveraddress": s.cfg.RegistryHost,
	})
	return base64.URLEncoding.EncodeToString(raw)
}
