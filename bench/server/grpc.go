package main

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"

	"github.com/bestbefore/bestbefore/target/oip"
)

// inferServer answers ModelInfer with one fixed score, doing nothing else.
type inferServer struct {
	oip.UnimplementedGRPCInferenceServiceServer
	resp *oip.ModelInferResponse
}

func (s inferServer) ModelInfer(context.Context, *oip.ModelInferRequest) (*oip.ModelInferResponse, error) {
	return s.resp, nil
}

func newGRPC() *grpc.Server {
	s := grpc.NewServer()
	oip.RegisterGRPCInferenceServiceServer(s, inferServer{resp: &oip.ModelInferResponse{
		ModelName: "scorer", ModelVersion: "1",
		Outputs: []*oip.ModelInferResponse_InferOutputTensor{{Name: "score", Datatype: "FP32", Shape: []int64{1, 1},
			Contents: &oip.InferTensorContents{Fp32Contents: []float32{0.5}}}},
	}})
	reflection.Register(s)
	return s
}
