package server

// portalRoutes are the end-user portal's routes.
func (s *Server) portalRoutes() {}
