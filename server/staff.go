package server

// staffRoutes are the staff API's routes.
func (s *Server) staffRoutes() {}
