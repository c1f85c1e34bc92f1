package lambda

import (
	"fmt"
	"net/http"

	"github.com/sockerless-lambda/sockerless/simulator/awsapi"
)

// Concurrency: each invocation holds a slot from acquiring its environment
// until it ends. A function with reserved concurrency draws on its
// reservation only; the others share what the account limit leaves
// unreserved. A synchronous invoke without a slot gets 429; an event waits
// in its function's queue until one frees.

// minUnreserved is the unreserved concurrency AWS keeps for functions
// without a reservation: 100 of the default 1,000, scaled down with a
// smaller simulated limit.
func (s *Service) minUnreserved() int {
	return min(100, s.cfg.AccountConcurrency/10)
}

// unreservedLocked is the account limit minus every reservation.
func (s *Service) unreservedLocked() int {
	n := s.cfg.AccountConcurrency
	for _, fn := range s.functions {
		if fn.reserved != nil {
			n -= int(*fn.reserved)
		}
	}
	return n
}

// slot is one held unit of concurrency.
type slot struct {
	fn     *function
	pooled bool // drawn from the unreserved pool
}

// takeSlot takes a slot for one invocation of fn, or returns AWS's
// ThrottleReason.
func (s *Service) takeSlot(fn *function) (*slot, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.takeSlotLocked(fn)
}

func (s *Service) takeSlotLocked(fn *function) (*slot, string) {
	if fn.reserved != nil {
		if fn.running >= int(*fn.reserved) {
			return nil, "ReservedFunctionConcurrentInvocationLimitExceeded"
		}
		fn.running++
		return &slot{fn: fn}, ""
	}
	if s.pooledRunning >= s.unreservedLocked() {
		return nil, "ConcurrentInvocationLimitExceeded"
	}
	fn.running++
	s.pooledRunning++
	return &slot{fn: fn, pooled: true}, ""
}

// releaseSlot gives the slot back and wakes the queues waiting for one.
func (s *Service) releaseSlot(sl *slot) {
	s.mu.Lock()
	sl.fn.running--
	if sl.pooled {
		s.pooledRunning--
	}
	s.wakeQueuesLocked()
	s.mu.Unlock()
}

// wakeQueuesLocked tells every dispatcher that a slot may have freed.
func (s *Service) wakeQueuesLocked() {
	close(s.slotFreed)
	s.slotFreed = make(chan struct{})
}

type concurrencyBody struct {
	ReservedConcurrentExecutions *int32 `json:",omitempty"`
}

func (s *Service) putFunctionConcurrency(w http.ResponseWriter, r *http.Request) {
	var in concurrencyBody
	if err := decodeBody(r, &in); err != nil {
		fail(w, err)
		return
	}
	var v violations
	if in.ReservedConcurrentExecutions == nil {
		v.add("null", "reservedConcurrentExecutions", "Member must not be null")
	} else if *in.ReservedConcurrentExecutions < 0 {
		v.add(*in.ReservedConcurrentExecutions, "reservedConcurrentExecutions", "Member must have value greater than or equal to 0")
	}
	if err := v.err(); err != nil {
		fail(w, err)
		return
	}
	fn, _, err := s.lookup(r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	n := *in.ReservedConcurrentExecutions
	s.mu.Lock()
	// The function's own reservation is given back before the new one is checked.
	left := s.unreservedLocked() - int(n)
	if fn.reserved != nil {
		left += int(*fn.reserved)
	}
	if left < s.minUnreserved() {
		s.mu.Unlock()
		fail(w, errInvalidParameter(fmt.Sprintf("Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [%d].", s.minUnreserved())))
		return
	}
	fn.reserved = &n
	s.wakeQueuesLocked()
	s.mu.Unlock()
	s.save()
	awsapi.WriteJSON(w, http.StatusOK, concurrencyBody{ReservedConcurrentExecutions: &n})
}

func (s *Service) getFunctionConcurrency(w http.ResponseWriter, r *http.Request) {
	fn, _, err := s.lookup(r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	s.mu.Lock()
	out := concurrencyBody{ReservedConcurrentExecutions: fn.reserved}
	s.mu.Unlock()
	awsapi.WriteJSON(w, http.StatusOK, out)
}

func (s *Service) deleteFunctionConcurrency(w http.ResponseWriter, r *http.Request) {
	fn, _, err := s.lookup(r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	s.mu.Lock()
	fn.reserved = nil
	s.wakeQueuesLocked()
	s.mu.Unlock()
	s.save()
	w.Header().Set("x-amzn-RequestId", awsapi.RequestID())
	w.WriteHeader(http.StatusNoContent)
}

type accountSettings struct {
	AccountLimit struct {
		TotalCodeSize                  int64
		CodeSizeUnzipped               int64
		CodeSizeZipped                 int64
		ConcurrentExecutions           int
		UnreservedConcurrentExecutions int
	}
	AccountUsage struct {
		TotalCodeSize int64 // image functions use no Lambda code storage
		FunctionCount int64
	}
}

func (s *Service) getAccountSettings(w http.ResponseWriter, r *http.Request) {
	var out accountSettings
	// Lambda's default code-storage quotas: 75 GB, 250 MB unzipped, 50 MB zipped.
	out.AccountLimit.TotalCodeSize = 80530636800
	out.AccountLimit.CodeSizeUnzipped = 262144000
	out.AccountLimit.CodeSizeZipped = 52428800
	out.AccountLimit.ConcurrentExecutions = s.cfg.AccountConcurrency
	s.mu.Lock()
	out.AccountLimit.UnreservedConcurrentExecutions = s.unreservedLocked()
	out.AccountUsage.FunctionCount = int64(len(s.functions))
	s.mu.Unlock()
	awsapi.WriteJSON(w, http.StatusOK, out)
}
