package kafka

import (
	"context"
	"errors"
)

// Kafka protocol error codes this listener answers with.
const (
	errNone                      int16 = 0
	errUnknownServer             int16 = -1
	errOffsetOutOfRange          int16 = 1
	errCorruptMessage            int16 = 2
	errUnknownTopicOrPartition   int16 = 3
	errNotLeaderForPartition     int16 = 6
	errRequestTimedOut           int16 = 7
	errMessageTooLarge           int16 = 10
	errCoordinatorLoadInProgress int16 = 14
	errCoordinatorNotAvailable   int16 = 15
	errInvalidTopic              int16 = 17
	errRecordListTooLarge        int16 = 18
	errInvalidRequiredAcks       int16 = 21
	errIllegalGeneration         int16 = 22
	errInconsistentGroupProtocol int16 = 23
	errInvalidGroupID            int16 = 24
	errUnknownMemberID           int16 = 25
	errInvalidSessionTimeout     int16 = 26
	errRebalanceInProgress       int16 = 27
	errTopicAuthorizationFailed  int16 = 29
	errUnsupportedSASLMechanism  int16 = 33
	errIllegalSASLState          int16 = 34
	errUnsupportedVersion        int16 = 35
	errTopicAlreadyExists        int16 = 36
	errInvalidPartitions         int16 = 37
	errInvalidReplicationFactor  int16 = 38
	errInvalidRequest            int16 = 42
	errUnsupportedForMessageFmt  int16 = 43
	errOutOfOrderSequence        int16 = 45
	errInvalidProducerEpoch      int16 = 47
	errInvalidConfig             int16 = 40
	errSASLAuthenticationFailed  int16 = 58
	errKafkaStorage              int16 = 56
	errFetchSessionIDNotFound    int16 = 70
	errMemberIDRequired          int16 = 79
	errTransactionalIDAuthFailed int16 = 53
)

// errorCode maps a Backend error to the Kafka error code a client acts on.
func errorCode(err error) int16 {
	switch {
	case err == nil:
		return errNone
	case errors.Is(err, ErrUnknownTopic):
		return errUnknownTopicOrPartition
	case errors.Is(err, ErrTopicExists):
		return errTopicAlreadyExists
	case errors.Is(err, ErrInvalidTopic):
		return errInvalidTopic
	case errors.Is(err, ErrInvalidPartitions):
		return errInvalidPartitions
	case errors.Is(err, ErrOffsetOutOfRange):
		return errOffsetOutOfRange
	case errors.Is(err, ErrRecordTooLarge):
		return errMessageTooLarge
	case errors.Is(err, errInvalidReplication):
		return errInvalidReplicationFactor
	case errors.Is(err, ErrInvalidConfig):
		return errInvalidConfig
	case errors.Is(err, ErrNotAuthorized):
		return errTopicAuthorizationFailed
	case errors.Is(err, ErrBusy):
		// Retriable in every client: they back off and retry.
		return errNotLeaderForPartition
	case errors.Is(err, context.DeadlineExceeded):
		return errRequestTimedOut
	case errors.Is(err, ErrStorage):
		return errKafkaStorage
	default:
		return errUnknownServer
	}
}

// errorMessage is the text sent with codes that carry one.
func errorMessage(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}
