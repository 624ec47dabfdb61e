package main

import (
	"go.uber.org/zap"

	"github.com/midgemq/midge/logging"
)

// zapLogger adapts zap to the logging.Logger that the server writes to;
// zap's console encoder formats the lines.
type zapLogger struct{ s *zap.SugaredLogger }

func (l zapLogger) Debug(msg string, kv ...any) { l.s.Debugw(msg, kv...) }
func (l zapLogger) Info(msg string, kv ...any)  { l.s.Infow(msg, kv...) }
func (l zapLogger) Warn(msg string, kv ...any)  { l.s.Warnw(msg, kv...) }
func (l zapLogger) Error(msg string, kv ...any) { l.s.Errorw(msg, kv...) }

func (l zapLogger) With(kv ...any) logging.Logger { return zapLogger{l.s.With(kv...)} }
