import CDNSDaemon

@main
enum CDNSMain {
    static func main() async {
        await CDNSCommand.main()
    }
}
